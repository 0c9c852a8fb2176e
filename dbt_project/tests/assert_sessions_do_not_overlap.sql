-- A listener's sessions never overlap: each starts after the previous one ended.
with

sessions as (

    select
        account,
        session_sk,
        session_start_at,
        lag(session_end_at) over (partition by account order by session_start_at) as previous_end_at

    from {{ ref('fct_sessions') }}

)

select * from sessions
where session_start_at <= previous_end_at
