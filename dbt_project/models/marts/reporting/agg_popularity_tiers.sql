-- How much each artist and track (recording) matters to each listener, from their own plays
-- (Spotify no longer returns popularity to this kind of app; its score is kept when present).
-- Tiers by percentile of listening time: top 5% favourite, next 15% frequent, next 30%
-- regular, the rest occasional; the same cut by play count in play_tier.
with

items as (

    -- Per month already (int_item_months); this whole-history mart is rebuilt in full.
    select * from {{ ref('int_item_months') }}
    where item_type in ('artist', 'track') and item_sk <> {{ unknown_key() }}

),

names as (

    select * from {{ ref('int_item_names') }}

),

artists as (

    select artist_sk as item_sk, spotify_popularity from {{ ref('dim_artist') }}

),

tracks as (

    select recording_sk as item_sk, max(spotify_popularity) as spotify_popularity
    from {{ ref('dim_track') }} group by recording_sk

),

totals as (

    select listener_sk, account, item_type, item_sk,
        cast(sum(plays) as bigint) as plays, sum(ms_played) as ms_played,
        min(first_played_date) as first_played_date, max(last_played_date) as last_played_date
    from items
    group by all

),

ranked as (

    select
        *,
        percent_rank() over (partition by listener_sk, item_type order by ms_played desc, item_sk)
            as minutes_percentile,
        percent_rank() over (partition by listener_sk, item_type order by plays desc, item_sk)
            as plays_percentile,
        row_number() over (partition by listener_sk, item_type order by ms_played desc, item_sk)
            as minutes_rank

    from totals

),

final as (

    select
        ---------- keys
        {{ generate_surrogate_key(['ranked.listener_sk', 'ranked.item_type', 'ranked.item_sk']) }}
            as popularity_sk,
        ranked.listener_sk,
        ranked.item_sk,

        ---------- strings
        ranked.account,
        ranked.item_type,
        coalesce(names.item_name, 'Unknown') as item_name,
        names.item_subtitle,
        {{ popularity_tier('ranked.minutes_percentile') }} as listening_tier,
        {{ popularity_tier('ranked.plays_percentile') }} as play_tier,

        ---------- numerics
        ranked.plays,
        round(ranked.ms_played / 60000.0, 2) as minutes_played,
        ranked.minutes_rank,
        ranked.minutes_percentile,
        coalesce(artists.spotify_popularity, tracks.spotify_popularity) as spotify_popularity,

        ---------- dates
        ranked.first_played_date,
        ranked.last_played_date

    from ranked
    left join names on ranked.item_type = names.item_type and ranked.item_sk = names.item_sk
    left join artists on ranked.item_type = 'artist' and ranked.item_sk = artists.item_sk
    left join tracks on ranked.item_type = 'track' and ranked.item_sk = tracks.item_sk

)

select * from final
