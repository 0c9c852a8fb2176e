-- Minutes per local month.
select strftime(local_date, '%Y-%m') as year_month, round(sum(minutes_played), 1) as minutes_played
from agg_daily_listening
where true [[and year(local_date) = {{year}}]] [[and account = {{listener}}]]
group by 1
order by 1
