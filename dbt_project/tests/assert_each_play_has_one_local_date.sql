-- Each play has exactly one local date: the date of its start in its listener's IANA zone,
-- and the daily mart counts every play exactly once.
with

plays as (

    select * from {{ ref('fct_plays') }}

),

listeners as (

    select * from {{ ref('dim_listener') }}

),

wrong_date as (

    select plays.play_sk, 'local date disagrees with the listener zone' as problem
    from plays
    inner join listeners on plays.listener_sk = listeners.listener_sk
    where plays.local_date is null
        or plays.local_date <> cast(timezone(listeners.timezone, plays.started_at) as date)

),

counted as (

    select
        (select count(*) from plays) as plays,
        (select coalesce(sum(plays), 0) from {{ ref('agg_daily_listening') }}) as daily_plays

)

select play_sk, problem from wrong_date
union all
select 'all', 'daily mart counts ' || daily_plays || ' plays, fct_plays has ' || plays
from counted
where plays <> daily_plays
