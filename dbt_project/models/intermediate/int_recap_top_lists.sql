-- Each listener's top 5s of each local year as text ("A, B, C"), and the number ones, from
-- agg_year_recap_top, for agg_year_recap.
with

tops as (

    select * from {{ ref('agg_year_recap_top') }}

),

final as (

    select
        listener_sk,
        year,
        string_agg(item_name, ', ' order by item_rank) filter (where item_type = 'artist')
            as top_artists,
        string_agg(item_name || coalesce(' - ' || item_subtitle, ''), ', ' order by item_rank)
            filter (where item_type = 'track') as top_tracks,
        string_agg(item_name, ', ' order by item_rank) filter (where item_type = 'album')
            as top_albums,
        string_agg(item_name, ', ' order by item_rank) filter (where item_type = 'genre')
            as top_genres,
        max(item_name) filter (where item_type = 'artist' and item_rank = 1) as top_artist,
        max(item_name) filter (where item_type = 'track' and item_rank = 1) as top_track

    from tops
    group by all

)

select * from final
