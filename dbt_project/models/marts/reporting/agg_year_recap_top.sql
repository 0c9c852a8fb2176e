-- The top 5 artists, tracks, albums and genres of every listener's every year: the lists of
-- a "Wrapped" for any year.
with

top_items as (

    select * from {{ ref('agg_top_items') }}
    where period_grain = 'year' and item_rank <= 5

),

final as (

    select
        ---------- keys
        top_item_sk as recap_top_sk,
        listener_sk,
        item_sk,

        ---------- strings
        account,
        item_type,
        item_name,
        item_subtitle,

        ---------- numerics
        cast(period_label as integer) as year,
        item_rank,
        plays,
        minutes_played

    from top_items

)

select * from final
