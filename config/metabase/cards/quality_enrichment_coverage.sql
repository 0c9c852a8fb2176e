-- Share of tracks, albums and artists the enrichment has filled in so far.
select check_name, round(coalesce(share, 0), 3) as share, measured, total
from agg_data_quality
where category = 'enrichment'
order by check_name
