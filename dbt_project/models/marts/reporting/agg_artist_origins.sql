-- Where the music comes from: listening per listener and artist origin (MusicBrainz begin
-- area or area, geocoded by Nominatim; geodata (c) OpenStreetMap contributors, ODbL).
-- Country comes from the geocoder, else MusicBrainz; artists without an origin are Unknown.
with

plays as (

    select * from {{ ref('fct_plays') }}
    where content_type = 'music'

),

artists as (

    select * from {{ ref('dim_artist') }}

),

locations as (

    select * from {{ ref('dim_location') }}

),

grouped as (

    select
        plays.listener_sk,
        plays.account,
        artists.origin_location_sk as location_sk,
        coalesce(artists.origin_country_code, 'Unknown') as country_code,
        count(distinct plays.artist_sk) as artists,
        count(*) as plays,
        sum(plays.ms_played) as ms_played

    from plays
    inner join artists on plays.artist_sk = artists.artist_sk
    group by all

),

final as (

    select
        ---------- keys
        {{ generate_surrogate_key(['grouped.listener_sk', 'grouped.location_sk', 'grouped.country_code']) }}
            as origin_sk,
        grouped.listener_sk,
        grouped.location_sk,

        ---------- strings
        grouped.account,
        grouped.country_code,
        coalesce(locations.country, grouped.country_code) as country,
        locations.region,
        coalesce(locations.city, locations.area_name) as place_name,

        ---------- numerics
        locations.latitude,
        locations.longitude,
        grouped.artists,
        grouped.plays,
        round(grouped.ms_played / 60000.0, 2) as minutes_played

    from grouped
    inner join locations on grouped.location_sk = locations.location_sk

)

select * from final
