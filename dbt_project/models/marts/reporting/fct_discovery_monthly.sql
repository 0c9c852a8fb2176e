-- New music per listener and local month: artists and tracks played for the first time ever
-- (tracks by recording, so a re-release of a known song is not a discovery), and how much of
-- the month's listening went to artists discovered that month.
with

plays as (

    select * from {{ ref('fct_plays') }}
    where content_type = 'music'

),

tracks as (

    select track_sk, recording_sk from {{ ref('dim_track') }}

),

music as (

    select plays.*, tracks.recording_sk
    from plays inner join tracks on plays.track_sk = tracks.track_sk

),

first_artist as (

    select listener_sk, artist_sk, min(local_date) as first_date
    from music where artist_sk <> {{ unknown_key() }}
    group by all

),

first_recording as (

    select listener_sk, recording_sk, min(local_date) as first_date
    from music where recording_sk <> {{ unknown_key() }}
    group by all

),

months as (

    select
        music.listener_sk,
        music.account,
        cast(date_trunc('month', music.local_date) as date) as month_start,
        count(*) as plays,
        sum(music.ms_played) as ms_played,
        count(distinct music.artist_sk) filter (where music.artist_sk <> {{ unknown_key() }})
            as distinct_artists,
        count(distinct music.recording_sk) as distinct_tracks,
        sum(music.ms_played) filter (
            where date_trunc('month', first_artist.first_date) = date_trunc('month', music.local_date)
        ) as ms_on_new_artists

    from music
    left join first_artist
        on music.listener_sk = first_artist.listener_sk and music.artist_sk = first_artist.artist_sk
    group by all

),

new_artists as (

    select listener_sk, cast(date_trunc('month', first_date) as date) as month_start,
        count(*) as new_artists
    from first_artist group by all

),

new_tracks as (

    select listener_sk, cast(date_trunc('month', first_date) as date) as month_start,
        count(*) as new_tracks
    from first_recording group by all

),

final as (

    select
        ---------- keys
        {{ generate_surrogate_key(['months.listener_sk', 'months.month_start']) }} as discovery_sk,
        months.listener_sk,

        ---------- strings
        months.account,
        strftime(months.month_start, '%Y-%m') as year_month,

        ---------- numerics
        months.plays,
        round(months.ms_played / 60000.0, 2) as minutes_played,
        months.distinct_artists,
        months.distinct_tracks,
        coalesce(new_artists.new_artists, 0) as new_artists,
        coalesce(new_tracks.new_tracks, 0) as new_tracks,
        case when months.distinct_artists > 0
            then coalesce(new_artists.new_artists, 0) / months.distinct_artists end
            as new_artist_share,
        coalesce(months.ms_on_new_artists, 0) / months.ms_played as minutes_share_on_new_artists,

        ---------- dates
        months.month_start

    from months
    left join new_artists
        on months.listener_sk = new_artists.listener_sk and months.month_start = new_artists.month_start
    left join new_tracks
        on months.listener_sk = new_tracks.listener_sk and months.month_start = new_tracks.month_start

)

select * from final
