-- Plays with discovery flags: the first-ever play of a track (by track key) and of an artist
-- (by case-folded album-artist name), per listener, over the whole history (so incremental
-- builds and full refreshes agree). Ties at the same instant go to the lower play_id.
with

plays as (

    select * from {{ ref('int_plays_sessionized') }}

),

final as (

    select
        *,
        track_key is not null and row_number() over (
            partition by account, track_key order by started_at, play_id
        ) = 1 as is_first_track_play,
        content_type = 'music' and artist_name is not null and row_number() over (
            partition by account, content_type, lower(artist_name) order by started_at, play_id
        ) = 1 as is_first_artist_play

    from plays

)

select * from final
