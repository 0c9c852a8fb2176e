-- Every minute of a day (local time), with its hour and day part.
with

minutes as (

    select cast(range as integer) as minute_of_day from range(0, 1440)

),

final as (

    select
        {{ generate_surrogate_key(['minute_of_day']) }} as time_sk,
        lpad(cast(minute_of_day // 60 as varchar), 2, '0') || ':'
            || lpad(cast(minute_of_day % 60 as varchar), 2, '0') as time_label,
        lpad(cast(minute_of_day // 60 as varchar), 2, '0') || ':00' as hour_label,
        {{ day_part('minute_of_day // 60') }} as day_part,
        minute_of_day,
        minute_of_day // 60 as hour_of_day,
        minute_of_day % 60 as minute_of_hour,
        {{ day_part_order('minute_of_day // 60') }} as day_part_order

    from minutes

    union all

    select {{ unknown_key() }}, 'Unknown', 'Unknown', 'Unknown', null, null, null, null

)

select * from final
