-- Each listener's longest run of consecutive listening days within each local year, for
-- agg_year_recap: a streak over New Year counts in both years, each with its own days.
with

days as (

    select * from {{ ref('agg_daily_listening') }}

),

year_islands as (

    select
        listener_sk,
        year(local_date) as year,
        local_date - cast(row_number() over (
            partition by listener_sk, year(local_date) order by local_date
        ) as integer) as island

    from days

),

final as (

    select listener_sk, year, max(streak_days) as longest_streak_days
    from (
        select listener_sk, year, island, count(*) as streak_days
        from year_islands group by all
    ) as streaks
    group by all

)

select * from final
