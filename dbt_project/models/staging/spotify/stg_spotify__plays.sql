-- A table, not a view like the other staging models: plays live in thousands of small daily
-- Parquet files, and a dozen models read them; scanning the files once per build instead of
-- once per reader makes a 1,000,000-play build markedly faster.
--
-- Incremental by day: the pipeline (DbtBuild) lists the UTC days (source build_request)
-- whose staged files changed since the last successful build (added, rewritten or removed);
-- only those days are deleted and read again, so a 30-minute cycle reads one day's files, not
-- ten years'. Without a list (first build, `music-tracker rebuild`, a hand-run `dbt build`)
-- every day is reloaded, which is always correct.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    pre_hook="{{ delete_changed_plays() }}"
) }}
{%- set changed = plays_changed_dates() %}

with

source as (

    select * from {{ source('spotify', 'plays') }}
    {%- if is_incremental() and changed is not none %}
    where date in ({{ sql_date_list(changed) }})
    {%- endif %}

),

renamed as (

    select
        ---------- ids
        play_id,
        account,
        track_id,
        episode_id,
        audiobook_id,
        audiobook_chapter_id,

        ---------- strings
        content_type,
        track_name,
        artist_name,
        album_name,
        episode_name,
        show_name,
        audiobook_title,
        audiobook_chapter_title,
        platform,
        upper(conn_country) as conn_country,
        reason_start,
        reason_end,
        source,
        source_file,
        ts_precision,
        -- What was played when there is no Spotify ID (account-data rows, local files).
        case
            when track_id is not null then 'spotify:' || track_id
            when content_type = 'music'
                then 'name:' || lower(coalesce(artist_name, '')) || '|' || lower(coalesce(track_name, ''))
        end as track_key,

        ---------- numerics
        ms_played,

        ---------- booleans
        shuffle as is_shuffle,
        skipped as is_skipped,
        offline as is_offline,
        incognito_mode as is_incognito,
        is_local,

        ---------- dates and timestamps (UTC)
        cast(date as date) as partition_date,
        played_at,
        played_at - to_milliseconds(ms_played) as started_at

    from source

)

select * from renamed
