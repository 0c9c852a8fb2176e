-- Top genre in the year.
select top_genre
from agg_year_recap
where true [[and year = {{year}}]] [[and account = {{listener}}]]
order by year desc
limit 1
