-- Runs of consecutive local days with at least one play, per listener.
with

days as (

    select * from {{ ref('agg_daily_listening') }}

),

islands as (

    select
        *,
        local_date - cast(row_number() over (
            partition by listener_sk order by local_date
        ) as integer) as island

    from days

),

streaks as (

    select
        listener_sk,
        account,
        min(local_date) as streak_start_date,
        max(local_date) as streak_end_date,
        count(*) as streak_days,
        sum(minutes_played) as minutes_played,
        sum(plays) as plays

    from islands
    group by listener_sk, account, island

),

final as (

    select
        ---------- keys
        {{ generate_surrogate_key(['listener_sk', 'streak_start_date']) }} as streak_sk,
        listener_sk,

        ---------- strings
        account,

        ---------- numerics
        streak_days,
        plays,
        round(minutes_played, 2) as minutes_played,
        rank() over (partition by listener_sk order by streak_days desc) as streak_rank,

        ---------- booleans
        -- Still running on the listener's latest day of listening.
        streak_end_date = max(streak_end_date) over (partition by listener_sk) as is_latest,

        ---------- dates
        streak_start_date,
        streak_end_date

    from streaks

)

select * from final
