-- Artist to genre, weighted: an artist's weights sum to 1, so minutes spread over genres
-- never double count. Artists without genres bridge to Unknown with weight 1.
with

artists as (

    select artist_sk, artist_key from {{ ref('dim_artist') }}

),

genres as (

    select * from {{ ref('int_artist_genres_weighted') }}

),

final as (

    select
        artists.artist_sk,
        case when genres.genre_name is null then {{ unknown_key() }}
            else {{ generate_surrogate_key(['genres.genre_name']) }} end as genre_sk,
        coalesce(genres.sources, 'none') as sources,
        coalesce(genres.tag_count, 0) as tag_count,
        coalesce(genres.weight, 1.0) as weight

    from artists
    left join genres on artists.artist_key = genres.artist_key

)

select * from final
