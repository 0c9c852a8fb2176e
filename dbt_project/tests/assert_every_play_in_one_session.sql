-- Sessions partition the plays: their play counts add up to fct_plays, and no play's
-- session is missing.
with

counted as (

    select
        (select count(*) from {{ ref('fct_plays') }}) as plays,
        (select coalesce(sum(plays), 0) from {{ ref('fct_sessions') }}) as session_plays,
        (
            select count(*) from {{ ref('fct_plays') }}
            where session_sk not in (select session_sk from {{ ref('fct_sessions') }})
        ) as orphans

)

select * from counted
where plays <> session_plays or orphans > 0
