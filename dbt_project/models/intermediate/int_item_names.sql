-- A display name (and subtitle) for every item the top-N marts rank.
with

artists as (

    select artist_sk as item_sk, 'artist' as item_type, artist_name as item_name,
        primary_genre as item_subtitle
    from {{ ref('dim_artist') }}

),

recordings as (

    -- A track nobody named (no title in the plays, not enriched): 'Unknown', as the marts say.
    select recording_sk as item_sk, 'track' as item_type,
        coalesce(
            arg_max(track_name, coalesce(track_id, '')) filter (where track_name is not null),
            'Unknown'
        ) as item_name,
        arg_max(primary_artist_name, coalesce(track_id, '')) as item_subtitle
    from {{ ref('dim_track') }}
    group by recording_sk

),

albums as (

    select album_sk as item_sk, 'album' as item_type, album_name as item_name,
        album_artist_name as item_subtitle
    from {{ ref('dim_album') }}

),

genres as (

    select genre_sk as item_sk, 'genre' as item_type, genre_name as item_name,
        null as item_subtitle
    from {{ ref('dim_genre') }}

),

final as (

    select * from artists
    union all select * from recordings
    union all select * from albums
    union all select * from genres

)

select * from final
