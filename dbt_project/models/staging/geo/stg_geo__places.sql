-- Geocoded places (Nominatim, (c) OpenStreetMap contributors): the latest successful
-- geocoding per place key wins.
with

source as (

    select * from {{ source('geo', 'places') }}

),

latest as (

    select *
    from source
    where status = 'found'
    qualify row_number() over (partition by place_key order by fetched_at desc) = 1

),

renamed as (

    select
        ---------- ids
        place_key,
        osm_type,
        osm_id,

        ---------- strings
        query,
        city,
        region,
        country,
        upper(country_code) as country_code,
        display_name,
        source as lookup_source,

        ---------- numerics
        latitude,
        longitude,

        ---------- timestamps
        fetched_at

    from latest

)

select * from renamed
