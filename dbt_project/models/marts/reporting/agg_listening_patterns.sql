-- When each listener listens: every local weekday x hour (the full 7 x 24 grid, zeros
-- included, for heatmaps), with day part, plays, minutes and skip rate.
with

plays as (

    select * from {{ ref('fct_plays') }}

),

listeners as (

    select listener_sk, account from {{ ref('dim_listener') }} where account <> '-1'

),

grid as (

    select
        listeners.listener_sk,
        listeners.account,
        cast(weekday.range as integer) as iso_weekday,
        cast(hour.range as integer) as hour_of_day
    from listeners, range(1, 8) as weekday, range(0, 24) as hour

),

cells as (

    select
        listener_sk,
        local_iso_weekday as iso_weekday,
        local_hour as hour_of_day,
        count(*) as plays,
        sum(ms_played) as ms_played,
        count(*) filter (where content_type = 'music') as music_plays,
        count(*) filter (where content_type = 'music' and is_skipped) as music_skips,
        count(distinct local_date) as active_days

    from plays
    group by all

),

final as (

    select
        ---------- keys
        grid.listener_sk,

        ---------- strings
        grid.account,
        ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'][grid.iso_weekday]
            as weekday_name,
        left(['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'][grid.iso_weekday], 3)
            as weekday_short,
        {{ day_part('grid.hour_of_day') }} as day_part,

        ---------- numerics
        grid.iso_weekday,
        grid.hour_of_day,
        {{ day_part_order('grid.hour_of_day') }} as day_part_order,
        coalesce(cells.plays, 0) as plays,
        round(coalesce(cells.ms_played, 0) / 60000.0, 2) as minutes_played,
        coalesce(cells.active_days, 0) as active_days,
        case when cells.music_plays > 0
            then cells.music_skips / cells.music_plays end as skip_rate

    from grid
    left join cells
        on grid.listener_sk = cells.listener_sk
        and grid.iso_weekday = cells.iso_weekday
        and grid.hour_of_day = cells.hour_of_day

)

select * from final
