-- Top artists, tracks (recordings), albums and genres per listener for all time, each year
-- and each month (local dates), ranked by minutes; var('top_items_per_period') ranks kept.
-- Unknown members are left out of the ranking (they stay in the facts).
with

items as (

    select * from {{ ref('int_music_plays_by_item') }}
    where item_sk <> {{ unknown_key() }}

),

names as (

    select * from {{ ref('int_item_names') }}

),

by_period as (

    select listener_sk, account, 'all' as period_grain, 'all time' as period_label,
        cast(null as date) as period_start, item_type, item_sk,
        count(*) as plays, sum(ms_played * weight) as ms_played
    from items group by all

    union all

    select listener_sk, account, 'year' as period_grain, strftime(local_date, '%Y') as period_label,
        cast(date_trunc('year', local_date) as date) as period_start, item_type, item_sk,
        count(*) as plays, sum(ms_played * weight) as ms_played
    from items group by all

    union all

    select listener_sk, account, 'month' as period_grain, strftime(local_date, '%Y-%m') as period_label,
        cast(date_trunc('month', local_date) as date) as period_start, item_type, item_sk,
        count(*) as plays, sum(ms_played * weight) as ms_played
    from items group by all

),

ranked as (

    select
        by_period.*,
        names.item_name,
        names.item_subtitle,
        row_number() over (
            partition by listener_sk, period_grain, period_label, by_period.item_type
            order by ms_played desc, plays desc, names.item_name, by_period.item_sk
        ) as item_rank,
        ms_played / sum(ms_played) over (
            partition by listener_sk, period_grain, period_label, by_period.item_type
        ) as share_of_period

    from by_period
    left join names
        on by_period.item_type = names.item_type and by_period.item_sk = names.item_sk

),

final as (

    select
        ---------- keys
        {{ generate_surrogate_key(['listener_sk', 'period_grain', 'period_label', 'item_type', 'item_rank']) }}
            as top_item_sk,
        listener_sk,
        item_sk,

        ---------- strings
        account,
        period_grain,
        period_label,
        item_type,
        coalesce(item_name, 'Unknown') as item_name,
        item_subtitle,

        ---------- numerics
        item_rank,
        plays,
        round(ms_played / 60000.0, 2) as minutes_played,
        share_of_period,

        ---------- dates
        period_start

    from ranked
    where item_rank <= {{ var('top_items_per_period') }}

)

select * from final
