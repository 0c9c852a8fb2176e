{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_reporting_window() }}"
    )
}}
-- depends_on: {{ ref('int_reporting_window') }}
-- Materialized (schema intermediate, never published), incremental by local month (macro
-- reporting_window): what every music play counts toward (int_music_plays_by_item), added up
-- per listener, month and item. The top-N, tier and genre-share marts read these few rows
-- instead of four rows per play, so the whole-history ones (all-time tops, tiers) stay cheap
-- to rebuild in full and the monthly ones recompute only the window's months.
with

items as (

    select * from {{ ref('int_music_plays_by_item') }}
    {%- if is_incremental() %}
    where local_date >= date_trunc('month', {{ reporting_since() }})
    {%- endif %}

),

final as (

    select
        listener_sk,
        account,
        cast(date_trunc('month', local_date) as date) as month_start,
        item_type,
        item_sk,
        count(*) as plays,
        sum(ms_played) as ms_played,
        sum(ms_played * weight) as weighted_ms_played,
        sum(weight) as weighted_plays,
        min(local_date) as first_played_date,
        max(local_date) as last_played_date

    from items
    group by all

)

select * from final
