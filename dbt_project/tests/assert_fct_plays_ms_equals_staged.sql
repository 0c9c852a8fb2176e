-- Every staged play reaches fct_plays once: same row count and same total milliseconds.
-- In a 30-minute cycle (macro cycle_reloaded_days) only the UTC days staging reloaded are
-- compared, on both sides: every other day's staged files are as the last successful build
-- left them, and fct_plays rebuilds a day only from those same staged rows. The whole suite
-- (`cron daily`, `rebuild`, a first build) compares every play.
{%- set days = cycle_reloaded_days() %}
with

staged as (

    select count(*) as plays, coalesce(sum(ms_played), 0) as ms_played
    from {{ source('spotify', 'plays') }}
    {%- if days is not none %}
    where date in ({{ sql_date_list(days) }})
    {%- endif %}

),

built as (

    select count(*) as plays, coalesce(sum(ms_played), 0) as ms_played
    from {{ ref('fct_plays') }}
    {%- if days is not none %}
    where partition_date in ({{ sql_date_list(days) }})
    {%- endif %}

)

select staged.*, built.plays as built_plays, built.ms_played as built_ms_played
from staged, built
where staged.plays <> built.plays or staged.ms_played <> built.ms_played
