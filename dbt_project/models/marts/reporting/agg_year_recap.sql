-- A yearly recap ("Wrapped") for every listener and local year: minutes, plays, top 5s,
-- discoveries, longest streak, biggest day and top genre. Streaks are counted within the
-- year (a streak over New Year counts in both years, each with its own days).
with

days as (

    select * from {{ ref('agg_daily_listening') }}

),

tops as (

    select * from {{ ref('agg_year_recap_top') }}

),

genre_shares as (

    select * from {{ ref('agg_genre_share_monthly') }}

),

discovery as (

    select * from {{ ref('agg_discovery_monthly') }}

),

totals as (

    -- Yearly totals from the plays, per year already (int_year_totals, incremental by year).
    -- This mart is rebuilt in full (a few rows per listener and year): its top lists carry
    -- names, which change without a play (a spelling, a primary genre).
    select * from {{ ref('int_year_totals') }}

),

biggest_day as (

    select
        listener_sk,
        year(local_date) as year,
        first(local_date order by minutes_played desc, local_date) as biggest_day,
        max(minutes_played) as biggest_day_minutes

    from days
    group by all

),

year_islands as (

    select
        listener_sk,
        year(local_date) as year,
        local_date - cast(row_number() over (
            partition by listener_sk, year(local_date) order by local_date
        ) as integer) as island

    from days

),

longest_streak as (

    select listener_sk, year, max(streak_days) as longest_streak_days
    from (
        select listener_sk, year, island, count(*) as streak_days
        from year_islands group by all
    ) as streaks
    group by all

),

new_music as (

    select listener_sk, year(month_start) as year,
        sum(new_artists) as new_artists, sum(new_tracks) as new_tracks
    from discovery
    group by all

),

top_genre as (

    select
        listener_sk,
        year,
        first(genre_name order by minutes desc, genre_name) as top_genre

    from (
        select listener_sk, year, genre_name, sum(minutes_played) as minutes
        from genre_shares
        where genre_name <> 'Unknown'
        group by all
    ) as by_genre
    group by all

),

top_lists as (

    select
        listener_sk,
        year,
        string_agg(item_name, ', ' order by item_rank) filter (where item_type = 'artist')
            as top_artists,
        string_agg(item_name || coalesce(' - ' || item_subtitle, ''), ', ' order by item_rank)
            filter (where item_type = 'track') as top_tracks,
        string_agg(item_name, ', ' order by item_rank) filter (where item_type = 'album')
            as top_albums,
        string_agg(item_name, ', ' order by item_rank) filter (where item_type = 'genre')
            as top_genres,
        max(item_name) filter (where item_type = 'artist' and item_rank = 1) as top_artist,
        max(item_name) filter (where item_type = 'track' and item_rank = 1) as top_track

    from tops
    group by all

),

final as (

    select
        ---------- keys
        {{ generate_surrogate_key(['totals.listener_sk', 'totals.year']) }} as recap_sk,
        totals.listener_sk,

        ---------- strings
        totals.account,
        coalesce(top_lists.top_artist, 'Unknown') as top_artist,
        coalesce(top_lists.top_track, 'Unknown') as top_track,
        coalesce(top_genre.top_genre, 'Unknown') as top_genre,
        top_lists.top_artists,
        top_lists.top_tracks,
        top_lists.top_albums,
        top_lists.top_genres,

        ---------- numerics
        totals.year,
        totals.plays,
        round(totals.ms_played / 60000.0, 1) as minutes_played,
        round(coalesce(totals.music_ms_played, 0) / 60000.0, 1) as music_minutes,
        round(coalesce(totals.spoken_ms_played, 0) / 60000.0, 1) as spoken_minutes,
        totals.distinct_tracks,
        totals.distinct_artists,
        totals.sessions,
        totals.active_days,
        totals.skip_rate,
        coalesce(new_music.new_artists, 0) as new_artists,
        coalesce(new_music.new_tracks, 0) as new_tracks,
        coalesce(longest_streak.longest_streak_days, 0) as longest_streak_days,
        biggest_day.biggest_day_minutes,

        ---------- dates
        biggest_day.biggest_day

    from totals
    left join biggest_day on totals.listener_sk = biggest_day.listener_sk and totals.year = biggest_day.year
    left join longest_streak
        on totals.listener_sk = longest_streak.listener_sk and totals.year = longest_streak.year
    left join new_music on totals.listener_sk = new_music.listener_sk and totals.year = new_music.year
    left join top_genre on totals.listener_sk = top_genre.listener_sk and totals.year = top_genre.year
    left join top_lists on totals.listener_sk = top_lists.listener_sk and totals.year = top_lists.year

)

select * from final
