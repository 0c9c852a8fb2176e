-- A calendar day spine (dbt core's date_spine), wide enough for any listening history, with
-- an Unknown member for plays whose local date falls outside it.
with

spine as (

    {{ dbt.date_spine('day', "cast('" ~ var('date_spine_start') ~ "' as date)", "cast('" ~ var('date_spine_end') ~ "' as date)") }}

),

days as (

    select cast(date_day as date) as date_day from spine

),

final as (

    select
        {{ generate_surrogate_key(['date_day']) }} as date_sk,
        strftime(date_day, '%B') as month_name,
        strftime(date_day, '%Y-%m') as year_month,
        strftime(date_day, '%A') as weekday_name,
        year(date_day) as year,
        quarter(date_day) as quarter,
        month(date_day) as month,
        day(date_day) as day_of_month,
        dayofyear(date_day) as day_of_year,
        isodow(date_day) as iso_weekday,
        weekofyear(date_day) as iso_week,
        isodow(date_day) in (6, 7) as is_weekend,
        date_day,
        cast(date_trunc('month', date_day) as date) as month_start,
        cast(date_trunc('week', date_day) as date) as week_start

    from days

    union all

    select
        {{ unknown_key() }}, 'Unknown', 'Unknown', 'Unknown',
        null, null, null, null, null, null, null, null, null, null, null

)

select * from final
