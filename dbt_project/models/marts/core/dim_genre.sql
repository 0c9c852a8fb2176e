-- One row per genre any artist carries (Spotify genres and MusicBrainz genres/tags the genre
-- seed recognises), with an Unknown member for artists without genres.
with

genres as (

    select * from {{ ref('int_artist_genres_weighted') }}

),

known_genres as (

    select distinct lower(trim(genre)) as genre from {{ ref('musicbrainz_genres') }}

),

final as (

    select
        {{ generate_surrogate_key(['genre_name']) }} as genre_sk,
        genre_name,
        count(*) as artist_count,
        sum(tag_count) as tag_count,
        genre_name in (select genre from known_genres) as is_musicbrainz_genre

    from genres
    group by genre_name

    union all

    select {{ unknown_key() }}, 'Unknown', 0, 0, false

)

select * from final
