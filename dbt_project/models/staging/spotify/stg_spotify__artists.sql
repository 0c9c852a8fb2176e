-- Spotify catalogue artists: the latest successful lookup per artist wins.
with

source as (

    select * from {{ source('spotify', 'artists') }}

),

latest as (

    select *
    from source
    where status = 'found'
    qualify row_number() over (partition by artist_id order by fetched_at desc) = 1

),

renamed as (

    select
        ---------- ids
        artist_id,

        ---------- strings
        artist_name,
        -- Spotify may return no genres for an artist; an empty list, never null.
        coalesce(list_transform(genres, lambda g: lower(trim(g))), []) as genres,
        source as lookup_source,

        ---------- numerics
        popularity,
        followers,

        ---------- timestamps
        fetched_at

    from latest

)

select * from renamed
