-- One row per artist (the case-folded name plays carry), enriched with Spotify and
-- MusicBrainz facts where found: type, gender, life span, origin, genres, popularity.
with

artists as (

    select * from {{ ref('int_artists_resolved') }}

),

genres as (

    select * from {{ ref('int_artist_genres_weighted') }}

),

top_genre as (

    select artist_key, first(genre_name order by weight desc, tag_count desc, genre_name) as primary_genre
    from genres
    group by artist_key

),

final as (

    select
        ---------- keys
        {{ generate_surrogate_key(['artists.artist_key']) }} as artist_sk,
        artists.artist_key,
        artists.spotify_artist_id,
        artists.mbid,
        case when artists.place_key is null then {{ unknown_key() }}
            else {{ generate_surrogate_key(['artists.place_key']) }} end as origin_location_sk,

        ---------- strings
        artists.artist_name,
        coalesce(artists.artist_type, 'unknown') as artist_type,
        coalesce(artists.gender, 'unknown') as gender,
        coalesce(top_genre.primary_genre, 'Unknown') as primary_genre,
        artists.origin_area_name,
        artists.origin_country_code,
        artists.life_begin,
        artists.life_end,
        artists.match_method,

        ---------- numerics
        artists.life_begin_year,
        artists.life_end_year,
        artists.match_score,
        artists.spotify_popularity,
        artists.spotify_followers,

        ---------- booleans
        artists.is_ended,
        artists.spotify_genres is not null as is_enriched_spotify,
        artists.has_musicbrainz as is_enriched_musicbrainz,
        top_genre.primary_genre is not null as has_genre

    from artists
    left join top_genre on artists.artist_key = top_genre.artist_key

    union all

    select
        {{ unknown_key() }}, '-1', null, null, {{ unknown_key() }},
        'Unknown', 'unknown', 'unknown', 'Unknown', null, null, null, null, null,
        null, null, null, null, null,
        null, false, false, false

)

select * from final
