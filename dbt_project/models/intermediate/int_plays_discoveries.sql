-- Materialized (schema intermediate, never published): small (one row per first play), so
-- fct_plays joins it cheaply instead of recomputing it.
{{ config(materialized='table') }}

-- First-ever plays per listener: of a track (by track key) and of an artist (by case-folded
-- album-artist name), over the whole history (so incremental builds and full refreshes agree).
-- Ties at the same instant go to the lower play_id. One row per play that is a first play of
-- something; every other play is a first of nothing. Grouping (not a window over every play)
-- keeps this cheap at a million plays.
with

plays as (

    select play_id, account, content_type, track_key, artist_name, started_at
    from {{ ref('stg_spotify__plays') }}

),

first_tracks as (

    select arg_min(play_id, (started_at, play_id)) as play_id
    from plays
    where track_key is not null
    group by account, track_key

),

first_artists as (

    select arg_min(play_id, (started_at, play_id)) as play_id
    from plays
    where content_type = 'music' and artist_name is not null
    group by account, lower(artist_name)

),

final as (

    select
        coalesce(first_tracks.play_id, first_artists.play_id) as play_id,
        first_tracks.play_id is not null as is_first_track_play,
        first_artists.play_id is not null as is_first_artist_play

    from first_tracks
    full outer join first_artists on first_tracks.play_id = first_artists.play_id

)

select * from final
