-- New artists in the year.
select new_artists
from agg_year_recap
where true [[and year = {{year}}]] [[and account = {{listener}}]]
order by year desc
limit 1
