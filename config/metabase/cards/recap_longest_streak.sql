-- Longest streak (days) in the year.
select longest_streak_days
from agg_year_recap
where true [[and year = {{year}}]] [[and account = {{listener}}]]
order by year desc
limit 1
