with

plays as (

    select * from {{ ref('stg_spotify__plays') }}
    where content_type = 'music' and album_name is not null

),

albums as (

    select
        lower(coalesce(artist_name, '')) || '|' || lower(album_name) as album_key,
        min(album_name) as album_name,
        min(artist_name) as album_artist_name
    from plays
    group by 1

),

final as (

    select
        {{ generate_surrogate_key(['album_key']) }} as album_sk,
        album_key,
        album_name,
        album_artist_name
    from albums

    union all

    select {{ unknown_key() }}, '-1', 'Unknown', 'Unknown'

)

select * from final
