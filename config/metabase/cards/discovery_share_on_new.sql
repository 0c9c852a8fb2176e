-- Share of each month's listening that went to artists discovered that month.
select month_start, round(minutes_share_on_new_artists, 3) as share_on_new_artists,
    round(new_artist_share, 3) as new_artist_share
from agg_discovery_monthly
where true [[and year(month_start) = {{year}}]] [[and account = {{listener}}]]
order by month_start
