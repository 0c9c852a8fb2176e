-- Places artists come from (their MusicBrainz begin area or area), geocoded through
-- Nominatim. Geodata (c) OpenStreetMap contributors, ODbL.
with

places as (

    select * from {{ ref('stg_geo__places') }}

),

final as (

    select
        {{ generate_surrogate_key(['place_key']) }} as location_sk,
        place_key,
        split_part(place_key, '|', 1) as area_name,
        city,
        region,
        country,
        country_code,
        display_name,
        latitude,
        longitude

    from places

    union all

    select {{ unknown_key() }}, '-1', 'Unknown', null, null, 'Unknown', null, 'Unknown', null, null

)

select * from final
