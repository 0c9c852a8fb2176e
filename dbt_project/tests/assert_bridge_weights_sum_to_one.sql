-- Weights in both bridges sum to 1 per artist (genres) and per track (artists), so
-- weighted minutes never double count.
select 'artist_genre' as bridge, artist_sk as owner_sk, sum(weight) as total
from {{ ref('bridge_artist_genre') }}
group by artist_sk
having abs(sum(weight) - 1) > 1e-9

union all

select 'track_artist', track_sk, sum(weight)
from {{ ref('bridge_track_artist') }}
group by track_sk
having abs(sum(weight) - 1) > 1e-9
