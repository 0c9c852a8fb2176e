with

bounds as (

    select
        coalesce(min(cast(played_at_local as date)), current_date) as first_date,
        coalesce(max(cast(played_at_local as date)), current_date) as last_date
    from {{ ref('int_plays_localized') }}

),

spine as (

    select cast(range as date) as date_day
    from bounds, range(bounds.first_date, bounds.last_date + interval 1 day, interval 1 day)

),

final as (

    select
        {{ generate_surrogate_key(['date_day']) }} as date_sk,
        date_day,
        year(date_day) as year,
        quarter(date_day) as quarter,
        month(date_day) as month,
        strftime(date_day, '%B') as month_name,
        strftime(date_day, '%Y-%m') as year_month,
        isodow(date_day) as iso_weekday,
        strftime(date_day, '%A') as weekday_name,
        weekofyear(date_day) as iso_week,
        isodow(date_day) in (6, 7) as is_weekend

    from spine

    union all

    select
        {{ unknown_key() }}, null, null, null, null, 'Unknown', 'Unknown', null, 'Unknown', null, null

)

select * from final
