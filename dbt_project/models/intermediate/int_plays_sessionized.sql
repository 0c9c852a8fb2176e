-- Materialized (schema intermediate, never published): its windows over the whole history then
-- run on their own instead of inside fct_plays, which keeps a 1,000,000-play build within
-- DuckDB's memory cap (duckdb.memory_limit).
{{ config(materialized='table') }}

-- Listening sessions: a listener's plays (any content) belong to one session until the
-- silence before a play (its start minus the latest end of every earlier play) exceeds
-- var('session_idle_gap_minutes'). Using the running latest end, not just the previous play's,
-- means two sessions of one listener can never overlap. Computed over the whole history (on
-- the few columns it needs, so a million plays fit the memory cap) so an incremental
-- fct_plays gets the same ids as a full refresh. One row per play (keyed by play_hash, the
-- 64-bit hash of play_id: a collision would double a play, which fct_plays' unique test on
-- play_sk stops before anything is published).
--
-- Every window shares one order (start, end, then a hash of play_id to break exact ties:
-- sorting on a number instead of the long play_id string is what keeps this fast), so DuckDB
-- sorts the plays once.
with

plays as (

    select play_id, account, started_at, played_at, hash(play_id) as tie_break
    from {{ ref('stg_spotify__plays') }}

),

gaps as (

    select
        *,
        max(played_at) over (
            partition by account
            order by started_at, played_at, tie_break
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

    -- Plays are in start order, so the latest session start so far is this play's session's
    -- first start (the session's name).
    select
        *,
        max(case when is_session_start then started_at end) over (
            partition by account
            order by started_at, played_at, tie_break
            rows between unbounded preceding and current row
        ) as session_started_at

    from flagged

),

final as (

    -- Narrow on purpose: fct_plays joins a million of these rows, and a join keyed on a
    -- number with two small columns fits DuckDB's memory cap where one keyed on the long
    -- play_id string (carrying the session's md5 key) did not. fct_plays names the session
    -- (listener and first start: stable as history grows) for the plays it builds.
    select
        tie_break as play_hash,
        is_session_start,
        session_started_at

    from numbered

)

select * from final
