-- The day with the most listening in the year.
select biggest_day, biggest_day_minutes
from agg_year_recap
where true [[and year = {{year}}]] [[and account = {{listener}}]]
order by year desc
limit 1
