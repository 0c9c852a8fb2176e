-- Materialized (schema intermediate, never published): one row, the first local day the
-- incremental reporting marts recompute in this build (`since`); their tests check the same
-- rows. Every later day, and so every month and year touching it, is rebuilt; earlier periods
-- are kept as the last build left them.
--
-- `since` is the earliest of:
-- * two days before the earliest UTC day whose staged plays changed (a play's local day is
--   at most a day off its UTC day, and it starts up to a long play before it ends). Every
--   effect of a play reaches only later plays: a first play (discovery) moves to a later play
--   when one is removed, and to this play when it is earlier; sessions change from it on;
-- * the first play of every artist, track or album whose enrichment lookups changed since the
--   last successful build (DbtBuild diffs the lookup content: a new genre, recording, release
--   date or name), so their genre shares, recordings and release years are recomputed in
--   every period they were played. Origins reach only whole-history marts, rebuilt anyway.
-- No request (first build, `music-tracker rebuild`, --full-refresh, dbt by hand) or a request
-- for the whole suite (`cron daily`: it also heals any drift) means everything: the first
-- possible day. Nothing changed means nothing: 9999-12-31.
{{ config(materialized='table') }}
{%- set full = cycle_reloaded_days() is none -%}
{%- set lookups = {} if full else reporting_window_request().get('lookups', {}) -%}
{%- set track_ids = lookups.get('spotify_tracks', []) -%}
{%- set album_ids = lookups.get('spotify_albums', []) -%}
{%- set artist_ids = lookups.get('spotify_artists', []) -%}
{%- set musicbrainz_keys = lookups.get('musicbrainz_artists', []) -%}

with

-- fct_plays is read where it is filtered, not through a CTE: DuckDB materializes a CTE read
-- twice, which copied every play (~0.35 s at 1M plays) for two scans of ~25 ms each.

tracks as (

    select track_sk, recording_sk, track_id, album_id, track_name, artist_name
    from {{ ref('dim_track') }}
    where track_key <> '-1'

),

artists as (

    select artist_sk, artist_key, spotify_artist_id from {{ ref('dim_artist') }}

),

catalogue as (

    select track_id, artist_ids from {{ ref('stg_spotify__tracks') }}

),

direct_tracks as (

    -- Catalogue answers for the track, its album or an artist it credits.
    select track_sk, lower(coalesce(artist_name, '')) || '|' || lower(coalesce(track_name, ''))
        as name_key
    from tracks
    where track_id in ({{ sql_string_list(track_ids) }})
        or album_id in ({{ sql_string_list(album_ids) }})
        or track_id in (
            select track_id from catalogue
            where list_has_any(artist_ids, [{{ sql_string_list(artist_ids) }}])
        )

),

changed_tracks as (

    -- And the tracks that share a recording with one (another release of the same ISRC: which
    -- play is the recording's first play may move), and the name-only tracks (account-data
    -- plays) of the same artist and title, which join the recording of a catalogue track.
    select track_sk from direct_tracks
    union
    select track_sk from tracks
    where recording_sk in (
            select recording_sk from tracks
            where track_sk in (select track_sk from direct_tracks)
        )
        or (
            track_id is null
            and lower(coalesce(artist_name, '')) || '|' || lower(coalesce(track_name, ''))
                in (select name_key from direct_tracks)
        )

),

changed_artists as (

    -- The artist's own answers: Spotify's, or MusicBrainz's by Spotify ID or by name.
    select artist_sk from artists
    where spotify_artist_id in ({{ sql_string_list(artist_ids + musicbrainz_keys) }})
        or 'name:' || artist_key in ({{ sql_string_list(musicbrainz_keys) }})

),

changed_albums as (

    select distinct album_sk from {{ ref('fct_plays') }}
    where track_sk in (select track_sk from changed_tracks)

),

lookup_since as (

    select min(local_date) as since from {{ ref('fct_plays') }}
    where track_sk in (select track_sk from changed_tracks)
        or artist_sk in (select artist_sk from changed_artists)
        or album_sk in (select album_sk from changed_albums)

),

final as (

    select
        {%- if full %}
        date '0001-01-01' as since
        {%- else %}
        least(
            {%- if track_ids or album_ids or artist_ids or musicbrainz_keys %}
            coalesce((select since from lookup_since), date '9999-12-31'),
            {%- else %}
            -- No lookup answer changed: no play to look for (a scan of fct_plays spared).
            date '9999-12-31',
            {%- endif %}
            {{ plays_window_since() }}
        )::date as since
        {%- endif %}

)

select * from final
