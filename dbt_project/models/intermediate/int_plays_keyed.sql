-- Every localized play with its own keys: the play's and every dimension's it can name from
-- its own columns (listener, date, time, track, artist, album, platform), the Unknown
-- member's key where it names none, so fct_plays' foreign keys are never null. Row by row
-- (no join, no window), so fct_plays' incremental filter reaches through it to the plays.
-- The session key needs the whole history's sessions: fct_plays adds it.
with

plays as (

    select * from {{ ref('int_plays_localized') }}

),

final as (

    select
        plays.*,
        {{ generate_surrogate_key(['play_id']) }} as play_sk,
        case when track_key is null then {{ unknown_key() }}
            else {{ generate_surrogate_key(['track_key']) }} end as track_sk,
        {{ generate_surrogate_key(['account']) }} as listener_sk,
        case
            -- dim_date's spine (end exclusive); a day outside it is the Unknown date.
            when local_date >= cast('{{ var("date_spine_start") }}' as date)
                and local_date < cast('{{ var("date_spine_end") }}' as date)
                then {{ generate_surrogate_key(['local_date']) }}
            else {{ unknown_key() }}
        end as date_sk,
        {{ generate_surrogate_key(['local_minute_of_day']) }} as time_sk,
        case when content_type <> 'music' or artist_name is null
            then {{ unknown_key() }}
            else {{ generate_surrogate_key(['lower(artist_name)']) }} end as artist_sk,
        case when content_type <> 'music' or album_name is null
            then {{ unknown_key() }}
            else {{ generate_surrogate_key(["lower(coalesce(artist_name, '')) || '|' || lower(album_name)"]) }}
        end as album_sk,
        case when platform is null then {{ unknown_key() }}
            else {{ generate_surrogate_key(['platform']) }} end as platform_sk

    from plays

)

select * from final
