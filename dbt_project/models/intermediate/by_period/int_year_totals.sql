-- depends_on: {{ ref('int_reporting_window') }}
-- Materialized (schema intermediate, never published), incremental by local year (macro
-- reporting_window): each listener's yearly totals from the plays (distinct counts cannot be
-- added up from days), so agg_year_recap, rebuilt in full for its names, reads a few rows.
with

plays as (

    select * from {{ ref('fct_plays') }}
    {%- if is_incremental() %}
    where local_date >= date_trunc('year', {{ reporting_since() }})
    {%- endif %}

),

final as (

    select
        listener_sk,
        account,
        year(local_date) as year,
        count(*) as plays,
        sum(ms_played) as ms_played,
        sum(ms_played) filter (where content_type = 'music') as music_ms_played,
        sum(ms_played) filter (where content_type <> 'music') as spoken_ms_played,
        count(distinct track_sk) filter (where content_type = 'music') as distinct_tracks,
        count(distinct artist_sk) filter (
            where content_type = 'music' and artist_sk <> {{ unknown_key() }}
        ) as distinct_artists,
        count(distinct session_sk) as sessions,
        count(distinct local_date) as active_days,
        avg(case when is_skipped then 1.0 when is_skipped is not null then 0.0 end)
            filter (where content_type = 'music') as skip_rate

    from plays
    group by all

)

select * from final
