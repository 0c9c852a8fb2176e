-- Spotify catalogue tracks: the latest successful lookup per track wins (a later failed or
-- not-found lookup never erases what we already know).
with

source as (

    select * from {{ source('spotify', 'tracks') }}

),

latest as (

    select *
    from source
    where status = 'found'
    qualify row_number() over (partition by track_id order by fetched_at desc) = 1

),

renamed as (

    select
        ---------- ids
        track_id,
        album_id,
        artist_ids,
        artist_ids[1] as primary_artist_id,

        ---------- strings
        track_name,
        nullif(upper(trim(isrc)), '') as isrc,
        artist_names,
        artist_names[1] as primary_artist_name,
        source as lookup_source,

        ---------- numerics
        duration_ms,
        track_number,
        disc_number,
        popularity,

        ---------- booleans
        is_explicit,

        ---------- timestamps
        fetched_at

    from latest

)

select * from renamed
