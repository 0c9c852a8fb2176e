-- Materialized (schema intermediate, never published): its window over the whole history then
-- runs on its own instead of inside fct_plays, which keeps a 1,000,000-play build within
-- DuckDB's memory cap (duckdb.memory_limit).
{{ config(materialized='table') }}

-- Listening sessions: a listener's plays (any content) belong to one session until the
-- silence before a play (its start minus the latest end of every earlier play) exceeds
-- var('session_idle_gap_minutes'). Using the running latest end, not just the previous play's,
-- means two sessions of one listener can never overlap. Computed over the whole history (on
-- the few columns it needs, so a million plays fit the memory cap) so an incremental
-- fct_plays gets the same ids as a full refresh. One row per play_id.
with

plays as (

    select play_id, account, started_at, played_at
    from {{ ref('stg_spotify__plays') }}

),

gaps as (

    select
        *,
        max(played_at) over (
            partition by account
            order by started_at, played_at, play_id
            rows between unbounded preceding and 1 preceding
        ) as previous_end_at

    from plays

),

flagged as (

    select
        *,
        previous_end_at is null
        or started_at > previous_end_at + to_minutes({{ var('session_idle_gap_minutes') }})
            as is_session_start

    from gaps

),

numbered as (

    select
        *,
        sum(case when is_session_start then 1 else 0 end) over (
            partition by account
            order by started_at, played_at, play_id
            rows between unbounded preceding and current row
        ) as session_number

    from flagged

),

sessions as (

    -- A session is named by its listener and first play's start: stable as history grows.
    select
        account,
        session_number,
        {{ generate_surrogate_key(['account', 'min(started_at)']) }} as session_sk

    from numbered
    group by account, session_number

),

final as (

    select
        numbered.play_id,
        numbered.previous_end_at,
        numbered.is_session_start,
        numbered.session_number,
        sessions.session_sk

    from numbered
    inner join sessions
        on numbered.account = sessions.account
        and numbered.session_number = sessions.session_number

)

select * from final
