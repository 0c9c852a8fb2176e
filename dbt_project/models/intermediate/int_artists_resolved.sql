-- One row per artist (case-folded name, the key plays carry) with the Spotify ID, Spotify
-- catalogue facts, the MusicBrainz match and the geocoded origin, where enrichment found them.
-- Artists come from plays (album artists) and from catalogue credits (featured artists).
with

plays as (

    select * from {{ ref('stg_spotify__plays') }}
    where content_type = 'music' and artist_name is not null

),

catalogue_tracks as (

    select * from {{ ref('stg_spotify__tracks') }}

),

spotify_artists as (

    select * from {{ ref('stg_spotify__artists') }}

),

musicbrainz as (

    select * from {{ ref('stg_musicbrainz__artists') }}

),

places as (

    select * from {{ ref('stg_geo__places') }}

),

credits as (

    -- (name, Spotify ID) pairs from every catalogue track's credits (no ID when the lists
    -- disagree in length, so a name is never paired with another artist's ID).
    select
        unnest(artist_names) as artist_name,
        unnest(
            case when len(artist_names) = len(artist_ids) then artist_ids
                else list_transform(artist_names, lambda x: null::varchar) end
        ) as artist_id
    from catalogue_tracks
    where len(artist_names) > 0

),

spellings as (

    select artist_name, count(*) as n from plays group by artist_name
    union all
    select artist_name, 0 as n from credits where artist_name is not null
    union all
    select artist_name, 0 as n from spotify_artists where artist_name is not null

),

names as (

    select
        lower(artist_name) as artist_key,
        -- The spelling plays use most wins; ties go to the first alphabetically.
        first(artist_name order by n desc, artist_name) as artist_name

    from (select artist_name, sum(n) as n from spellings group by artist_name) as s
    group by lower(artist_name)

),

ids as (

    select
        lower(artist_name) as artist_key,
        -- The Spotify ID credited most often under this name.
        mode(artist_id order by artist_id) as spotify_artist_id
    from (
        select artist_name, artist_id from credits
        union all
        select artist_name, artist_id from spotify_artists
    ) as pairs
    where artist_id is not null
    group by lower(artist_name)

),

joined as (

    select
        names.artist_key,
        names.artist_name,
        ids.spotify_artist_id,
        spotify_artists.genres as spotify_genres,
        spotify_artists.popularity as spotify_popularity,
        spotify_artists.followers as spotify_followers,
        coalesce(mb_by_id.mbid, mb_by_name.mbid) is not null as has_musicbrainz,
        coalesce(mb_by_id.lookup_key, mb_by_name.lookup_key) as musicbrainz_lookup_key

    from names
    left join ids on names.artist_key = ids.artist_key
    left join spotify_artists on ids.spotify_artist_id = spotify_artists.artist_id
    left join musicbrainz as mb_by_id on ids.spotify_artist_id = mb_by_id.lookup_key
    left join musicbrainz as mb_by_name on 'name:' || names.artist_key = mb_by_name.lookup_key

),

with_musicbrainz as (

    select
        joined.*,
        musicbrainz.mbid,
        musicbrainz.artist_type,
        musicbrainz.gender,
        musicbrainz.life_begin,
        musicbrainz.life_end,
        musicbrainz.life_begin_year,
        musicbrainz.life_end_year,
        musicbrainz.is_ended,
        musicbrainz.tags as musicbrainz_tags,
        musicbrainz.genres as musicbrainz_genres,
        musicbrainz.match_method,
        musicbrainz.match_score,
        coalesce(musicbrainz.begin_area_name, musicbrainz.area_name) as origin_area_name,
        coalesce(
            musicbrainz.country_code,
            left(musicbrainz.begin_area_iso, 2),
            left(musicbrainz.area_iso, 2)
        ) as musicbrainz_country_code,
        musicbrainz.origin_place_key

    from joined
    left join musicbrainz on joined.musicbrainz_lookup_key = musicbrainz.lookup_key

),

final as (

    select
        with_musicbrainz.* exclude (origin_place_key),
        -- Where the artist comes from: the pipeline's one origin key (begin area first, else
        -- the area), set only once that place is geocoded, so dim_artist's location always
        -- exists in dim_location.
        places.place_key,
        coalesce(places.country_code, musicbrainz_country_code) as origin_country_code

    from with_musicbrainz
    left join places on with_musicbrainz.origin_place_key = places.place_key

)

select * from final
