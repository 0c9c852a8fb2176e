-- Plays in the year.
select coalesce(sum(plays), 0) as plays
from agg_daily_listening
where true [[and year(local_date) = {{year}}]] [[and account = {{listener}}]]
