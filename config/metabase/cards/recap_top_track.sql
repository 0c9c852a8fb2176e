-- Top track in the year.
select top_track
from agg_year_recap
where true [[and year = {{year}}]] [[and account = {{listener}}]]
order by year desc
limit 1
