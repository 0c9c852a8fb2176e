-- Materialized (schema intermediate, never published): dim_track, dim_album and
-- bridge_track_artist read it, and as an ephemeral each of them grouped every play again.
{{ config(materialized='table') }}

-- One row per track key seen in plays, with what the Spotify catalogue knows about it, and
-- the recording it is: tracks sharing an ISRC are one recording released several times
-- (album, single, compilation); a name-only play (account-data export) joins the recording of
-- the catalogue track with the same artist and title.
with

plays as (

    select * from {{ ref('stg_spotify__plays') }}
    where track_key is not null

),

catalogue as (

    select * from {{ ref('stg_spotify__tracks') }}

),

tracks as (

    -- Names as last played, from the plays that have them: a play without a name (an export
    -- row with a track URI and no title) must not blank the track's name.
    select
        track_key,
        max(track_id) as track_id,
        arg_max(track_name, played_at) filter (where track_name is not null) as track_name,
        arg_max(artist_name, played_at) filter (where artist_name is not null) as artist_name,
        arg_max(album_name, played_at) filter (where album_name is not null) as album_name,
        lower(coalesce(arg_max(artist_name, played_at) filter (where artist_name is not null), ''))
            || '|'
            || lower(coalesce(arg_max(track_name, played_at) filter (where track_name is not null), ''))
            as name_key,
        bool_or(is_local) as is_local

    from plays
    group by track_key

),

joined as (

    select
        -- No play named it: the catalogue's name, once enrichment found the track.
        tracks.* replace (coalesce(tracks.track_name, catalogue.track_name) as track_name),
        catalogue.isrc,
        catalogue.album_id,
        catalogue.artist_ids,
        catalogue.artist_names,
        catalogue.primary_artist_name,
        catalogue.duration_ms,
        catalogue.track_number,
        catalogue.disc_number,
        catalogue.popularity,
        catalogue.is_explicit,
        catalogue.track_id is not null as is_enriched,
        coalesce('isrc:' || catalogue.isrc, tracks.track_key) as own_recording_key

    from tracks
    left join catalogue on tracks.track_id = catalogue.track_id

),

recording_by_name as (

    -- For name-only tracks: the recording of an identified track with the same artist|title.
    select name_key, min(own_recording_key) as recording_key
    from joined
    where track_id is not null
    group by name_key

),

final as (

    select
        joined.* exclude (own_recording_key),
        case
            when joined.track_id is null
                then coalesce(recording_by_name.recording_key, joined.own_recording_key)
            else joined.own_recording_key
        end as recording_key

    from joined
    left join recording_by_name
        on joined.track_id is null and joined.name_key = recording_by_name.name_key

)

select * from final
