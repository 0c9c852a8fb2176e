-- Each play with its listener's local time (IANA zone, DST-correct): every local-time
-- attribute downstream (date, hour, weekday, sessions) starts here.
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
        timezone(coalesce(listeners.timezone, 'UTC'), plays.played_at) as played_at_local,
        timezone(coalesce(listeners.timezone, 'UTC'), plays.started_at) as started_at_local

    from plays
    left join listeners on plays.account = listeners.account

)

select * from localized
