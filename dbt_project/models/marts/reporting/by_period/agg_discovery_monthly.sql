-- depends_on: {{ ref('int_reporting_window') }}
-- New music per listener and local month: artists and track recordings played for the first
-- time ever, and how much of the month's listening went to artists discovered that month. A
-- discovery is a first play of int_plays_with_discoveries, the one definition agg_daily_listening
-- and agg_year_recap count too. Incremental by local month (macro
-- reporting_window): a build recomputes the months from int_reporting_window's first day on.
with

plays as (

    select * from {{ ref('int_plays_with_discoveries') }}
    {%- if is_incremental() %}
    where local_date >= date_trunc('month', {{ reporting_since() }})
    {%- endif %}

),

tracks as (

    select track_sk, recording_sk from {{ ref('dim_track') }}

),

music as (

    select plays.*, tracks.recording_sk
    from plays inner join tracks on plays.track_sk = tracks.track_sk
    where plays.content_type = 'music'

),

first_artist as (

    -- The day each listener discovered each artist, over the whole history (a few rows per
    -- artist), so a month's "minutes on new artists" is right whichever months are rebuilt.
    -- (An inner join on the few first plays: the plays CTE above is filtered to the window.)
    select fct.listener_sk, fct.artist_sk, min(fct.local_date) as first_date
    from {{ ref('fct_plays') }} as fct
    inner join {{ ref('int_plays_discoveries') }} as discoveries
        on fct.play_id = discoveries.play_id
    where discoveries.is_first_artist_play
    group by all

),

firsts as (

    select
        listener_sk,
        cast(date_trunc('month', local_date) as date) as month_start,
        count(*) filter (where is_first_artist_play) as new_artists,
        count(*) filter (where is_first_track_play) as new_tracks
    from plays
    where is_first_artist_play or is_first_track_play
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
        coalesce(firsts.new_artists, 0) as new_artists,
        coalesce(firsts.new_tracks, 0) as new_tracks,
        case when months.distinct_artists > 0
            then coalesce(firsts.new_artists, 0) / months.distinct_artists end
            as new_artist_share,
        coalesce(months.ms_on_new_artists, 0) / months.ms_played as minutes_share_on_new_artists,

        ---------- dates
        months.month_start

    from months
    left join firsts
        on months.listener_sk = firsts.listener_sk and months.month_start = firsts.month_start

)

select * from final
