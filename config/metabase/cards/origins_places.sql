-- Artist origins as points (geocoded MusicBrainz areas; (c) OpenStreetMap contributors).
select place_name, country, latitude, longitude, sum(artists) as artists,
    round(sum(minutes_played), 0) as minutes_played
from agg_artist_origins
where latitude is not null [[and account = {{listener}}]]
group by 1, 2, 3, 4
order by minutes_played desc
