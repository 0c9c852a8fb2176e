-- Each play with its listener's local time (IANA zone, DST-correct, via DuckDB's ICU
-- `timezone()`): every local-time attribute downstream (date, hour, weekday, day part,
-- sessions, streaks) starts here. A play belongs to the local day and minute it STARTED in.
with

plays as (

    select * from {{ ref('stg_spotify__plays') }}

),

listeners as (

    select * from {{ ref('stg_pipeline__listeners') }}

),

localized as (

    select
        plays.*,
        coalesce(listeners.timezone, 'UTC') as timezone,
        timezone(coalesce(listeners.timezone, 'UTC'), plays.started_at) as started_at_local,
        timezone(coalesce(listeners.timezone, 'UTC'), plays.played_at) as played_at_local

    from plays
    left join listeners on plays.account = listeners.account

),

final as (

    select
        *,
        cast(started_at_local as date) as local_date,
        hour(started_at_local) as local_hour,
        hour(started_at_local) * 60 + minute(started_at_local) as local_minute_of_day,
        isodow(started_at_local) as local_iso_weekday

    from localized

)

select * from final
