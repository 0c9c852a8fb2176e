-- MusicBrainz artists: the latest successful lookup per lookup key (a Spotify artist ID, or
-- "name:<case-folded name>") wins.
with

source as (

    select * from {{ source('musicbrainz', 'artists') }}

),

latest as (

    select *
    from source
    where status = 'found'
    qualify row_number() over (partition by lookup_key order by fetched_at desc) = 1

),

renamed as (

    select
        ---------- ids
        lookup_key,
        spotify_artist_id,
        mbid,
        -- The origin's place key, built once by the pipeline (pipeline.transform.geo.origin_of)
        -- and joined on as is: never rebuilt here from the area columns.
        origin_place_key,

        ---------- strings
        query_name,
        artist_name,
        sort_name,
        lower(artist_type) as artist_type,
        lower(gender) as gender,
        upper(country) as country_code,
        area_name,
        upper(area_iso) as area_iso,
        area_type,
        begin_area_name,
        upper(begin_area_iso) as begin_area_iso,
        begin_area_type,
        life_begin,
        life_end,
        coalesce(tags, []) as tags,
        coalesce(genres, []) as genres,
        match_method,
        source as lookup_source,

        ---------- numerics
        match_score,
        try_cast(left(life_begin, 4) as integer) as life_begin_year,
        try_cast(left(life_end, 4) as integer) as life_end_year,

        ---------- booleans
        coalesce(is_ended, life_end is not null) as is_ended,

        ---------- timestamps
        fetched_at

    from latest

)

select * from renamed
