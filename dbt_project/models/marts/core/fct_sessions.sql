{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_sessions_window() }}"
    )
}}
-- depends_on: {{ ref('int_reporting_window') }}
-- One row per listening session (plays of any content separated by less than
-- var('session_idle_gap_minutes') of silence), in the listener's local time.
--
-- Incremental (macro delete_sessions_window): a build deletes and recomputes the sessions that
-- end on or after int_reporting_window's first day, and keeps the others; a full refresh gives
-- the same rows. That first day is two days before the earliest changed UTC day, and a play
-- only changes the sessions from its own start on (a session is decided by earlier plays
-- only), so every session a changed play reaches ends after it. The tests read every row.
with

plays as (

    select * from {{ ref('fct_plays') }}
    {%- if is_incremental() %}
    where session_sk in (
        -- Distinct first: a full window (every play) then fits the memory cap.
        select distinct session_sk from {{ ref('fct_plays') }}
        where played_at >= {{ reporting_since() }}
    )
    {%- endif %}

),

sessions as (

    select
        session_sk,
        listener_sk,
        account,
        min(started_at) as session_start_at,
        max(played_at) as session_end_at,
        min(started_at_local) as session_start_local,
        max(played_at_local) as session_end_local,
        arg_min(local_date, started_at) as local_date,
        arg_min(date_sk, started_at) as date_sk,
        arg_min(time_sk, started_at) as time_sk,
        count(*) as plays,
        count(distinct track_sk) filter (where content_type = 'music') as distinct_tracks,
        count(distinct artist_sk) filter (where content_type = 'music') as distinct_artists,
        sum(ms_played) as ms_played,
        sum(ms_played) filter (where content_type = 'music') as music_ms_played,
        sum(ms_played) filter (where content_type <> 'music') as spoken_ms_played,
        count(*) filter (where is_skipped) as skips,
        avg(case when is_shuffle then 1.0 when is_shuffle is not null then 0.0 end) as shuffle_share

    from plays
    group by session_sk, listener_sk, account

),

final as (

    select
        ---------- keys
        session_sk,
        listener_sk,
        date_sk,
        time_sk,

        ---------- strings
        account,

        ---------- numerics
        plays,
        distinct_tracks,
        distinct_artists,
        skips,
        ms_played,
        round(ms_played / 60000.0, 2) as minutes_played,
        round(coalesce(music_ms_played, 0) / 60000.0, 2) as music_minutes,
        round(coalesce(spoken_ms_played, 0) / 60000.0, 2) as spoken_minutes,
        round(date_diff('millisecond', session_start_at, session_end_at) / 60000.0, 2)
            as duration_minutes,
        shuffle_share,

        ---------- dates and timestamps
        local_date,
        session_start_at,
        session_end_at,
        session_start_local,
        session_end_local

    from sessions

)

select * from final
