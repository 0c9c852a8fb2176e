-- depends_on: {{ ref('int_reporting_window') }}
-- Materialized (schema intermediate, never published), incremental by local month (macro
-- reporting_window): every music play counted toward its artist, its recording (releases of
-- one ISRC merged), its album and each of its artist's genres (weighted, so minutes spread over
-- genres still add up to the play's minutes), added up per listener, month and item. The
-- top-N, tier and genre-share marts read these few rows instead of four rows per play, so the
-- whole-history ones (all-time tops, tiers) stay cheap to rebuild in full and the monthly ones
-- recompute only the window's months.
--
-- One aggregate per item type, not one over the union of four rows per play: at a million
-- plays that single hash table ran out of the 128MB DuckDB limit (measured); four smaller
-- ones build in ~1 s within it, with the same rows.
{%- set branches = [
    ('artist', 'plays.artist_sk', '1.0', ''),
    ('track', 'tracks.recording_sk', '1.0', ''),
    ('album', 'plays.album_sk', '1.0', ''),
    ('genre', 'genres.genre_sk', 'genres.weight',
        'inner join ' ~ ref('bridge_artist_genre') ~ ' as genres on plays.artist_sk = genres.artist_sk'),
] %}
with

plays as not materialized (

    select listener_sk, account, local_date, ms_played, track_sk, artist_sk, album_sk
    from {{ ref('fct_plays') }}
    where content_type = 'music'
    {%- if is_incremental() %}
        and local_date >= date_trunc('month', {{ reporting_since() }})
    {%- endif %}

),

tracks as not materialized (

    -- Not materialized either: a CTE read by the four branches is materialized by DuckDB,
    -- and the materialized copy, small as it is, left the aggregates no room at 1M plays.
    select track_sk, recording_sk from {{ ref('dim_track') }}

),

final as (
{% for item_type, item_sk, weight, join in branches %}
    select
        plays.listener_sk,
        plays.account,
        cast(date_trunc('month', plays.local_date) as date) as month_start,
        '{{ item_type }}' as item_type,
        {{ item_sk }} as item_sk,
        count(*) as plays,
        sum(plays.ms_played) as ms_played,
        sum(plays.ms_played * {{ weight }}) as weighted_ms_played,
        sum({{ weight }}) as weighted_plays,
        min(plays.local_date) as first_played_date,
        max(plays.local_date) as last_played_date
    from plays
    inner join tracks on plays.track_sk = tracks.track_sk
    {{ join }}
    group by all
    {%- if not loop.last %}

    union all
{% endif %}
{%- endfor %}

)

select * from final
