with

plays as (

    select * from {{ ref('stg_spotify__plays') }}
    where track_key is not null

),

tracks as (

    select
        track_key,
        max(track_id) as track_id,
        arg_max(track_name, played_at) as track_name,
        arg_max(artist_name, played_at) as artist_name,
        arg_max(album_name, played_at) as album_name,
        bool_or(is_local) as is_local
    from plays
    group by track_key

),

final as (

    select
        {{ generate_surrogate_key(['track_key']) }} as track_sk,
        track_key,
        track_id,
        track_name,
        artist_name,
        album_name,
        is_local
    from tracks

    union all

    select {{ unknown_key() }}, '-1', null, 'Unknown', 'Unknown', 'Unknown', false

)

select * from final
