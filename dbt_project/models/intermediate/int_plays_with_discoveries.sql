-- Every play of fct_plays with its discovery flags from int_plays_discoveries, the one
-- definition of a first play. fct_plays carries the flags too, but it is incremental: an old
-- export imported late can make an earlier play the first one, and only int_plays_discoveries
-- is recomputed over the whole history every build. The marts that count discoveries
-- (agg_daily_listening, agg_discovery_monthly) read this, filtering on local_date, which
-- DuckDB pushes below the join into the fct_plays scan.
with

plays as (

    select * from {{ ref('fct_plays') }}

),

discoveries as (

    select * from {{ ref('int_plays_discoveries') }}

),

final as (

    select
        plays.* exclude (is_first_track_play, is_first_artist_play),
        coalesce(discoveries.is_first_track_play, false) as is_first_track_play,
        coalesce(discoveries.is_first_artist_play, false) as is_first_artist_play
    from plays
    left join discoveries
        on plays.play_id = discoveries.play_id

)

select * from final
