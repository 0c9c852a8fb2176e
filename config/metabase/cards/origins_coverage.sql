-- How much listening has a known origin yet.
select case when country_code = 'Unknown' then 'origin unknown' else 'origin known' end as origin,
    round(sum(minutes_played), 0) as minutes_played, sum(artists) as artists
from agg_artist_origins
where true [[and account = {{listener}}]]
group by 1
order by 1
