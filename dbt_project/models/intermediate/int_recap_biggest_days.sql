-- Each listener's biggest day of each local year (most minutes; ties go to the earlier day),
-- for agg_year_recap.
with

days as (

    select * from {{ ref('agg_daily_listening') }}

),

final as (

    select
        listener_sk,
        year(local_date) as year,
        first(local_date order by minutes_played desc, local_date) as biggest_day,
        max(minutes_played) as biggest_day_minutes

    from days
    group by all

)

select * from final
