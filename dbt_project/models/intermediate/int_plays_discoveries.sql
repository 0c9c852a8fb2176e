-- Materialized (schema intermediate, never published): its window over the whole history then
-- runs on its own instead of inside fct_plays, which keeps a 1,000,000-play build within
-- DuckDB's memory cap (duckdb.memory_limit).
{{ config(materialized='table') }}

-- First-ever plays per listener: of a track (by track key) and of an artist (by case-folded
-- album-artist name), over the whole history (so incremental builds and full refreshes agree).
-- Ties at the same instant go to the lower play_id. One row per play_id, few columns.
with

plays as (

    select play_id, account, content_type, track_key, artist_name, started_at
    from {{ ref('stg_spotify__plays') }}

),

final as (

    select
        play_id,
        track_key is not null and row_number() over (
            partition by account, track_key order by started_at, play_id
        ) = 1 as is_first_track_play,
        content_type = 'music' and artist_name is not null and row_number() over (
            partition by account, content_type, lower(artist_name) order by started_at, play_id
        ) = 1 as is_first_artist_play

    from plays

)

select * from final
