{{
    config(
        materialized='incremental',
        unique_key='play_sk',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        post_hook=["{{ delete_unstaged_plays() }}"]
    )
}}
-- depends_on: {{ ref('stg_spotify__plays') }}

-- One row per play, keyed to every dimension (Unknown members, never null). Incremental:
-- each run rebuilds the plays from var('fct_plays_lookback_days') days before the newest
-- partition already built, or from the oldest partition holding a play not built yet (an old
-- export imported late), whichever is earlier; plus any play whose track duration changed
-- since (enrichment arrived). The post-hook drops plays staging no longer has (a poll's play
-- replaced by the export's). Session ids and discovery flags come from the whole history, so
-- a full refresh gives identical rows.
with

keyed as (

    -- The plays with their own keys (int_plays_keyed: row by row, so the filter below reaches
    -- the plays under it).
    select * from {{ ref('int_plays_keyed') }}

),

sessions as (

    select * from {{ ref('int_plays_sessionized') }}

),

discoveries as (

    select * from {{ ref('int_plays_discoveries') }}

),

tracks as (

    -- dim_track (already built) rather than int_tracks_resolved, which would group every play
    -- again here.
    select track_sk, track_key, duration_ms
    from {{ ref('dim_track') }}
    where track_key <> '-1'

),

{#- A table built by an older version of this model (without the columns the incremental
    logic reads) is rebuilt row by row instead: every play goes through delete+insert. -#}
{%- set can_increment = false -%}
{%- if is_incremental() -%}
    {%- set existing = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- set can_increment = 'track_duration_ms' in existing and 'track_sk' in existing -%}
{%- endif %}

{% if can_increment %}
{#- The batch is chosen before the plays are keyed, as literals: DuckDB pushes a literal
    filter on partition_date or track_key down to the staging scan, but not a subquery's
    (nor an `or`), and keying every play (eight md5s, two zone conversions) costs ~2 s at
    1,000,000 plays. Both are read when the model runs (execute), from the table as built. -#}
{%- set cutoff = fct_plays_cutoff() -%}
{%- set stale_keys = fct_plays_stale_track_keys() %}

batch as (

    select keyed.*
    from keyed
    where keyed.partition_date >= date '{{ cutoff }}'
    {%- if stale_keys is none %}
        or keyed.play_id in (
            -- More stale tracks than a literal list should hold: compare every built play.
            select built.play_id
            from (select play_id, track_sk, track_duration_ms from {{ this }}) as built
            inner join tracks on built.track_sk = tracks.track_sk
            where built.track_duration_ms is distinct from tracks.duration_ms
        )
    {%- elif stale_keys | length > 0 %}
        or keyed.track_key in ({{ sql_string_list(stale_keys) }})
    {%- endif %}

),

{% else %}

batch as (

    select * from keyed

),

{% endif %}

final as (

    select
        ---------- keys
        batch.play_sk,
        batch.play_id,
        batch.listener_sk,
        batch.date_sk,
        batch.time_sk,
        batch.track_sk,
        batch.artist_sk,
        batch.album_sk,
        batch.platform_sk,
        -- The start as UTC text whatever the session's TimeZone (a timestamptz cast to text is
        -- written in it): the same key as before for a UTC run, and under any TZ.
        {{ generate_surrogate_key(['batch.account', "cast(timezone('UTC', sessions.session_started_at) as varchar) || '+00'"]) }} as session_sk,

        ---------- strings
        batch.account,
        batch.content_type,
        batch.reason_start,
        batch.reason_end,
        batch.conn_country,
        batch.source,
        batch.timezone,
        batch.episode_id,
        batch.episode_name,
        batch.show_name,
        batch.audiobook_title,
        batch.audiobook_chapter_title,

        ---------- numerics
        batch.ms_played,
        tracks.duration_ms as track_duration_ms,
        case when tracks.duration_ms > 0
            then least(batch.ms_played / tracks.duration_ms, 1.0) end as share_played,
        batch.local_hour,
        batch.local_minute_of_day,
        batch.local_iso_weekday,

        ---------- booleans
        batch.is_shuffle,
        -- The export's flag; else a forward-button end counts as a skip.
        coalesce(batch.is_skipped, batch.reason_end = 'fwdbtn') as is_skipped,
        batch.reason_end = 'trackdone' as is_completed,
        batch.is_offline,
        batch.is_incognito,
        batch.is_local,
        sessions.is_session_start,
        coalesce(discoveries.is_first_track_play, false) as is_first_track_play,
        coalesce(discoveries.is_first_artist_play, false) as is_first_artist_play,

        ---------- dates and timestamps
        batch.local_date,
        batch.partition_date,
        batch.started_at,
        batch.played_at,
        batch.started_at_local,
        batch.played_at_local

    from batch
    inner join sessions on hash(batch.play_id) = sessions.play_hash
    left join discoveries on batch.play_id = discoveries.play_id
    left join tracks on batch.track_sk = tracks.track_sk

)

select * from final
