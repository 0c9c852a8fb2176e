-- Every staged play reaches fct_plays once: same row count and same total milliseconds.
with

staged as (

    select count(*) as plays, coalesce(sum(ms_played), 0) as ms_played
    from {{ source('spotify', 'plays') }}

),

built as (

    select count(*) as plays, coalesce(sum(ms_played), 0) as ms_played
    from {{ ref('fct_plays') }}

)

select staged.*, built.plays as built_plays, built.ms_played as built_ms_played
from staged, built
where staged.plays <> built.plays or staged.ms_played <> built.ms_played
