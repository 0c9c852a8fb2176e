-- Top artists, tracks (recordings), albums and genres per listener for all time, each year
-- and each month (local dates), ranked by minutes; var('top_items_per_period') ranks kept.
-- Unknown members are left out of the ranking (they stay in the facts). The ranking is
-- int_top_items (incremental by period); names are added here in full, every build.
with

names as (

    select * from {{ ref('int_item_names') }}

),

unpacked as (

    select * from {{ ref('int_top_items') }}

),

named as (

    select unpacked.*, names.item_name, names.item_subtitle
    from unpacked
    left join names
        on unpacked.item_type = names.item_type and unpacked.item_sk = names.item_sk

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

    from named

)

select * from final
