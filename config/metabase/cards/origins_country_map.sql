-- Minutes by the artists' country of origin (ISO code, for Metabase's world map).
select country_code, sum(artists) as artists, round(sum(minutes_played), 0) as minutes_played
from agg_artist_origins
where country_code <> 'Unknown' [[and account = {{listener}}]]
group by 1
order by 3 desc
