-- One row per album (album artist + title, as plays name it), with release facts from the
-- Spotify catalogue where enrichment found them.
with

plays as (

    select * from {{ ref('stg_spotify__plays') }}
    where content_type = 'music' and album_name is not null

),

tracks as (

    select * from {{ ref('int_tracks_resolved') }}

),

catalogue as (

    select * from {{ ref('stg_spotify__albums') }}

),

albums as (

    select
        lower(coalesce(artist_name, '')) || '|' || lower(album_name) as album_key,
        arg_max(album_name, played_at) as album_name,
        arg_max(artist_name, played_at) as album_artist_name

    from plays
    group by 1

),

album_ids as (

    -- The catalogue album most of this album's tracks were released on.
    select
        lower(coalesce(artist_name, '')) || '|' || lower(album_name) as album_key,
        mode(album_id order by album_id) as album_id
    from tracks
    where album_id is not null and album_name is not null
    group by 1

),

final as (

    select
        ---------- keys
        {{ generate_surrogate_key(['albums.album_key']) }} as album_sk,
        albums.album_key,
        album_ids.album_id,
        catalogue.upc,

        ---------- strings
        albums.album_name,
        albums.album_artist_name,
        coalesce(catalogue.album_type, 'unknown') as album_type,
        catalogue.label,
        catalogue.release_date_precision,

        ---------- numerics
        catalogue.release_year,
        catalogue.total_tracks,
        (catalogue.release_year // 10) * 10 as release_decade,

        ---------- booleans
        catalogue.album_id is not null as is_enriched,

        ---------- dates
        catalogue.release_date

    from albums
    left join album_ids on albums.album_key = album_ids.album_key
    left join catalogue on album_ids.album_id = catalogue.album_id

    union all

    select
        {{ unknown_key() }}, '-1', null, null,
        'Unknown', 'Unknown', 'unknown', null, null,
        null, null, null,
        false,
        null

)

select * from final
