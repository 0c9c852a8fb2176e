-- Materialized (schema intermediate, never published): its windows over the whole history then
-- run on their own instead of inside fct_plays, which keeps a 1,000,000-play build within
-- DuckDB's memory cap (duckdb.memory_limit).
--
-- Incremental (macro delete_sessionized_window): a build deletes and recomputes the plays that
-- start on or after plays_window_since() (int_reporting_window's rule for play days: two days
-- before the earliest changed UTC day; every play when there is no list or for the whole
-- suite), carrying in what the earlier plays leave (each listener's latest end and latest
-- session start before that day), and keeps the others; a full refresh gives the same rows.
-- A play's session depends on earlier plays only, and every changed play starts after that
-- day (a play lasts less than two days). Lookups do not reach sessions. fct_plays reads this
-- model and int_reporting_window reads fct_plays, so the day is computed here, as a literal.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_sessionized_window() }}"
    )
}}
{%- set window = is_incremental() and sessionized_can_increment() %}

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
    {%- if window %}
    where started_at >= {{ plays_window_since() }}
    {%- endif %}

),

earlier_ends as (

    -- What the plays before the window leave: each listener's latest end...
    {%- if window %}
    select account, max(played_at) as previous_end_at
    from {{ ref('stg_spotify__plays') }}
    where started_at < {{ plays_window_since() }}
    group by account
    {%- else %}
    select null as account, cast(null as timestamptz) as previous_end_at
    where false
    {%- endif %}

),

earlier_sessions as (

    -- ... and latest session start (as this table holds them).
    {%- if window %}
    select account, max(session_started_at) as session_started_at
    from {{ this }}
    where started_at < {{ plays_window_since() }}
    group by account
    {%- else %}
    select null as account, cast(null as timestamptz) as session_started_at
    where false
    {%- endif %}

),

gaps as (

    select
        plays.*,
        greatest(
            max(plays.played_at) over (
                partition by plays.account
                order by plays.started_at, plays.played_at, plays.tie_break
                rows between unbounded preceding and 1 preceding
            ),
            earlier_ends.previous_end_at
        ) as previous_end_at

    from plays
    left join earlier_ends on plays.account = earlier_ends.account

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
        flagged.*,
        coalesce(
            max(case when flagged.is_session_start then flagged.started_at end) over (
                partition by flagged.account
                order by flagged.started_at, flagged.played_at, flagged.tie_break
                rows between unbounded preceding and current row
            ),
            earlier_sessions.session_started_at
        ) as session_started_at

    from flagged
    left join earlier_sessions on flagged.account = earlier_sessions.account

),

final as (

    -- Narrow on purpose: fct_plays joins a million of these rows, and a join keyed on a
    -- number with two small columns fits DuckDB's memory cap where one keyed on the long
    -- play_id string (carrying the session's md5 key) did not. fct_plays names the session
    -- (listener and first start: stable as history grows) for the plays it builds and reads
    -- only those columns; account and started_at are what the next incremental build reads.
    select
        tie_break as play_hash,
        is_session_start,
        session_started_at,
        account,
        started_at

    from numbered

)

select * from final
