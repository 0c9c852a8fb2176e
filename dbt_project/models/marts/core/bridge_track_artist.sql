-- Track to every credited artist (catalogue credits; the album artist when the catalogue has
-- none), with position and an equal weight per artist that sums to 1 per track.
with

tracks as (

    select * from {{ ref('int_tracks_resolved') }}

),

credits as (

    select
        track_key,
        unnest(artist_names) as artist_name,
        unnest(range(1, len(artist_names) + 1)) as artist_position
    from tracks
    where len(artist_names) > 0

    union all

    select track_key, artist_name, 1 as artist_position
    from tracks
    where coalesce(len(artist_names), 0) = 0

),

deduped as (

    -- An artist credited twice on one track counts once, at their first position.
    select * from credits
    qualify row_number() over (
        partition by track_key, lower(artist_name) order by artist_position
    ) = 1

),

final as (

    select
        {{ generate_surrogate_key(['track_key']) }} as track_sk,
        case when artist_name is null then {{ unknown_key() }}
            else {{ generate_surrogate_key(['lower(artist_name)']) }} end as artist_sk,
        artist_position,
        case when artist_position = 1 then 'primary' else 'featured' end as artist_role,
        1.0 / count(*) over (partition by track_key) as weight

    from deduped

)

select * from final
