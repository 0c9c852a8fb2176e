-- Materialized (schema intermediate, never published): small (one row per first play), so
-- fct_plays joins it cheaply instead of recomputing it.
{{ config(materialized='table') }}

-- Discoveries, defined once: the first-ever play per listener of a track recording (tracks
-- sharing an ISRC, or a name-only play joined to one by artist and title, are one recording:
-- a re-release of a known song is not a discovery) and of an artist (by case-folded
-- album-artist name), over the whole history (so incremental builds and full refreshes
-- agree). Music plays only. fct_plays carries them as is_first_track_play /
-- is_first_artist_play, and every mart that counts new tracks or artists
-- (agg_daily_listening, agg_discovery_monthly, agg_year_recap) counts this model's rows.
-- Ties at the same instant go to the lower play_id. One row per play that is a first play of
-- something; every other play is a first of nothing. Grouping (not a window over every play)
-- keeps this cheap at a million plays.
with

plays as not materialized (

    -- Read twice below: not materialized, DuckDB scans staging twice (~0.2 s) instead of
    -- copying 960,000 plays first (~0.6 s at 1M).
    select play_id, account, content_type, track_key, artist_name, started_at
    from {{ ref('stg_spotify__plays') }}
    where content_type = 'music'

),

recordings as (

    select track_key, recording_key from {{ ref('dim_track') }}
    where track_key <> '-1'

),

first_tracks as (

    select arg_min(plays.play_id, (plays.started_at, plays.play_id)) as play_id
    from plays
    inner join recordings on plays.track_key = recordings.track_key
    group by plays.account, recordings.recording_key

),

first_artists as (

    select arg_min(play_id, (started_at, play_id)) as play_id
    from plays
    where artist_name is not null
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
