-- One row per track (Spotify ID, or artist|title for name-only plays), with catalogue facts
-- where enrichment found them. recording_sk groups releases of the same recording (ISRC).
with

tracks as (

    select * from {{ ref('int_tracks_resolved') }}

),

releases as (

    select recording_key, count(*) as recording_release_count
    from tracks group by recording_key

),

final as (

    select
        ---------- keys
        {{ generate_surrogate_key(['tracks.track_key']) }} as track_sk,
        {{ generate_surrogate_key(['tracks.recording_key']) }} as recording_sk,
        tracks.track_key,
        tracks.recording_key,
        tracks.track_id,
        tracks.album_id,
        tracks.isrc,

        ---------- strings
        tracks.track_name,
        tracks.artist_name,
        coalesce(tracks.primary_artist_name, tracks.artist_name) as primary_artist_name,
        tracks.album_name,
        case
            when tracks.popularity is null then 'Unknown'
            when tracks.popularity >= 70 then 'Hit'
            when tracks.popularity >= 40 then 'Popular'
            when tracks.popularity >= 15 then 'Niche'
            else 'Obscure'
        end as spotify_popularity_tier,

        ---------- numerics
        tracks.duration_ms,
        tracks.track_number,
        tracks.disc_number,
        tracks.popularity as spotify_popularity,
        releases.recording_release_count,
        coalesce(len(tracks.artist_ids), 1) as artist_count,

        ---------- booleans
        tracks.is_explicit,
        tracks.is_local,
        tracks.is_enriched

    from tracks
    left join releases on tracks.recording_key = releases.recording_key

    union all

    select
        {{ unknown_key() }}, {{ unknown_key() }}, '-1', '-1', null, null, null,
        'Unknown', 'Unknown', 'Unknown', 'Unknown', 'Unknown',
        null, null, null, null, 1, 0,
        null, false, false

)

select * from final
