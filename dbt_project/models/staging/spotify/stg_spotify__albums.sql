-- Spotify catalogue albums: the latest successful lookup per album wins.
with

source as (

    select * from {{ source('spotify', 'albums') }}

),

latest as (

    select *
    from source
    where status = 'found'
    qualify row_number() over (partition by album_id order by fetched_at desc) = 1

),

renamed as (

    select
        ---------- ids
        album_id,
        artist_ids,
        upc,

        ---------- strings
        album_name,
        lower(album_type) as album_type,
        label,
        release_date as release_date_raw,
        lower(release_date_precision) as release_date_precision,
        source as lookup_source,

        ---------- numerics
        total_tracks,
        -- The year is known whatever the precision ("1979", "1979-06", "1979-06-01").
        try_cast(left(release_date, 4) as integer) as release_year,

        ---------- dates and timestamps
        case lower(release_date_precision)
            when 'day' then try_cast(release_date as date)
            when 'month' then try_cast(release_date || '-01' as date)
            when 'year' then try_cast(release_date || '-01-01' as date)
        end as release_date,
        fetched_at

    from latest

)

select * from renamed
