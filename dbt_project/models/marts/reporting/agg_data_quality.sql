-- How complete and trustworthy the warehouse is: one row per check (and detail, e.g. a
-- quarantine reason), with what was measured, out of how many, and the share.
with

plays as (

    select * from {{ ref('fct_plays') }}

),

tracks as (

    select * from {{ ref('dim_track') }} where track_key <> '-1'

),

albums as (

    select * from {{ ref('dim_album') }} where album_key <> '-1'

),

artists as (

    select * from {{ ref('dim_artist') }} where artist_key <> '-1'

),

quarantine as (

    select * from {{ ref('stg_pipeline__quarantine') }}

),

gaps as (

    select * from {{ ref('stg_pipeline__gaps') }}

),

music as (

    select * from plays where content_type = 'music'

),

checks as (

    select 'plays' as category, 'plays_total' as check_name, 'all' as detail,
        count(*) as measured, count(*) as total from plays
    union all
    select 'plays', 'music_plays_unknown_track', 'all',
        count(*) filter (where track_sk = {{ unknown_key() }}), count(*) from music
    union all
    select 'plays', 'music_plays_unknown_artist', 'all',
        count(*) filter (where artist_sk = {{ unknown_key() }}), count(*) from music
    union all
    select 'plays', 'music_plays_unknown_album', 'all',
        count(*) filter (where album_sk = {{ unknown_key() }}), count(*) from music
    union all
    select 'plays', 'plays_unknown_date', 'all',
        count(*) filter (where date_sk = {{ unknown_key() }}), count(*) from plays
    union all
    select 'plays', 'plays_unknown_platform', 'all',
        count(*) filter (where platform_sk = {{ unknown_key() }}), count(*) from plays
    union all
    select 'enrichment', 'tracks_with_catalogue', 'all',
        count(*) filter (where is_enriched), count(*) from tracks
    union all
    select 'enrichment', 'tracks_with_isrc', 'all',
        count(*) filter (where isrc is not null), count(*) from tracks
    union all
    select 'enrichment', 'albums_with_release_date', 'all',
        count(*) filter (where release_year is not null), count(*) from albums
    union all
    select 'enrichment', 'artists_with_musicbrainz', 'all',
        count(*) filter (where is_enriched_musicbrainz), count(*) from artists
    union all
    select 'enrichment', 'artists_with_spotify', 'all',
        count(*) filter (where is_enriched_spotify), count(*) from artists
    union all
    select 'enrichment', 'artists_with_genre', 'all',
        count(*) filter (where has_genre), count(*) from artists
    union all
    select 'enrichment', 'artists_with_origin', 'all',
        count(*) filter (where origin_location_sk <> {{ unknown_key() }}), count(*) from artists
    union all
    select 'enrichment', 'music_minutes_with_genre', 'all',
        cast(coalesce(sum(music.ms_played) filter (where artists.has_genre), 0) / 60000 as bigint),
        cast(coalesce(sum(music.ms_played), 0) / 60000 as bigint)
    from music left join artists on music.artist_sk = artists.artist_sk
    union all
    select 'gaps', 'polling_gaps', coalesce(account, 'all'),
        count(*), null from gaps group by rollup (account)
    union all
    select 'gaps', 'polling_gap_minutes', coalesce(account, 'all'),
        cast(coalesce(sum(gap_minutes), 0) as bigint), null from gaps group by rollup (account)
    union all
    select 'quarantine', 'quarantined_rows', coalesce(reason, 'all'),
        count(*), null from quarantine group by rollup (reason)

),

final as (

    select
        ---------- keys
        {{ generate_surrogate_key(['check_name', 'detail']) }} as check_sk,

        ---------- strings
        category,
        check_name,
        detail,

        ---------- numerics
        measured,
        total,
        case when total > 0 then measured / total end as share

    from checks

)

select * from final
