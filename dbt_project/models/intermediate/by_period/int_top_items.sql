-- depends_on: {{ ref('int_reporting_window') }}
-- Materialized (schema intermediate, never published), incremental by period (macro
-- reporting_window): the top items of each listener's periods, all time, each year and each
-- month (local dates), ranked by minutes; var('top_items_per_period') ranks kept, Unknown
-- members left out. A build recomputes all time, the years and the months from the window's
-- first day on, and keeps the earlier ones: ranking every month of ten years took ~0.55 s of
-- every 30-minute cycle at 1M plays, the window's periods ~0.06 s. No names here:
-- agg_top_items adds them in full each build, as an item's name can change in any period (a
-- new spelling, a new primary genre).
with

monthly as not materialized (

    -- Read three times below: not materialized, each reads int_item_months itself instead of
    -- DuckDB copying its ~880,000 rows at 1M first.
    -- int_item_months (incremental by month) already adds up the plays' items per month;
    -- years and all time add up the months.
    select
        listener_sk, account, month_start, item_type, item_sk, plays,
        weighted_ms_played as ms_played
    from {{ ref('int_item_months') }}
    where item_sk <> {{ unknown_key() }}

),

by_period as (

    select listener_sk, account, 'all' as period_grain, 'all time' as period_label,
        cast(null as date) as period_start, item_type, item_sk,
        cast(sum(plays) as bigint) as plays, sum(ms_played) as ms_played
    from monthly group by all

    union all

    select listener_sk, account, 'year' as period_grain, strftime(month_start, '%Y') as period_label,
        cast(date_trunc('year', month_start) as date) as period_start, item_type, item_sk,
        cast(sum(plays) as bigint) as plays, sum(ms_played) as ms_played
    from monthly
    {%- if is_incremental() %}
    where month_start >= date_trunc('year', {{ reporting_since() }})
    {%- endif %}
    group by all

    union all

    select listener_sk, account, 'month' as period_grain,
        strftime(month_start, '%Y-%m') as period_label, month_start as period_start,
        item_type, item_sk, plays, ms_played
    from monthly
    {%- if is_incremental() %}
    where month_start >= date_trunc('month', {{ reporting_since() }})
    {%- endif %}

),

top_lists as (

    -- The top N of each period as one list, ranked by minutes, then plays, then the item's
    -- key (stable from run to run): a grouped top-N, which costs far less than numbering
    -- every item of every period with a window.
    select
        listener_sk, account, period_grain, period_label, period_start, item_type,
        sum(ms_played) as period_ms_played,
        max_by(
            {'item_sk': item_sk, 'plays': plays, 'ms_played': ms_played},
            (ms_played, plays, item_sk),
            {{ var('top_items_per_period') }}
        ) as top_items
    from by_period
    group by all

),

ranked as (

    select
        listener_sk, account, period_grain, period_label, period_start, item_type,
        period_ms_played,
        unnest(top_items) as top_item,
        generate_subscripts(top_items, 1) as item_rank
    from top_lists

),

unpacked as (

    select
        listener_sk, account, period_grain, period_label, period_start, item_type, item_rank,
        top_item.item_sk, top_item.plays, top_item.ms_played,
        top_item.ms_played / period_ms_played as share_of_period
    from ranked

)

select
    listener_sk, account, period_grain, period_label, period_start, item_type, item_rank,
    item_sk, plays, ms_played, share_of_period
from unpacked
