with

plays as (

    select * from {{ ref('int_plays_localized') }}

),

final as (

    select
        ---------- keys
        {{ generate_surrogate_key(['play_id']) }} as play_sk,
        play_id,
        {{ generate_surrogate_key(['account']) }} as listener_sk,
        {{ generate_surrogate_key(['cast(played_at_local as date)']) }} as date_sk,
        case when track_key is null then {{ unknown_key() }}
            else {{ generate_surrogate_key(['track_key']) }} end as track_sk,
        case when content_type <> 'music' or artist_name is null then {{ unknown_key() }}
            else {{ generate_surrogate_key(['lower(artist_name)']) }} end as artist_sk,
        case when content_type <> 'music' or album_name is null then {{ unknown_key() }}
            else {{ generate_surrogate_key(["lower(coalesce(artist_name, '')) || '|' || lower(album_name)"]) }}
        end as album_sk,

        ---------- strings
        account,
        content_type,
        platform,
        conn_country,
        reason_start,
        reason_end,
        source,
        episode_name,
        show_name,
        audiobook_title,

        ---------- numerics
        ms_played,
        hour(played_at_local) as local_hour,

        ---------- booleans
        is_shuffle,
        is_skipped,
        reason_end = 'trackdone' as is_completed,
        is_offline,
        is_incognito,
        is_local,

        ---------- dates and timestamps
        cast(played_at_local as date) as local_date,
        partition_date,
        played_at,
        started_at,
        played_at_local

    from plays

)

select * from final
