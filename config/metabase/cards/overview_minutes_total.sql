-- Minutes listened in the year (all content), for the selected listener.
select round(coalesce(sum(minutes_played), 0), 0) as minutes_played
from agg_daily_listening
where true [[and year(local_date) = {{year}}]] [[and account = {{listener}}]]
