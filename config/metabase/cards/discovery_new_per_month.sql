-- Artists and tracks played for the first time ever, per month.
select month_start, new_artists, new_tracks
from agg_discovery_monthly
where true [[and year(month_start) = {{year}}]] [[and account = {{listener}}]]
order by month_start
