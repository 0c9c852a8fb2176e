-- A yearly recap ("Wrapped") for every listener and local year: minutes, plays, top 5s,
-- discoveries, longest streak, biggest day and top genre. Each part is an int_recap_* step
-- (one per listener and year); this model only puts them side by side.
with

totals as (

    -- Yearly totals from the plays, per year already (int_year_totals, incremental by year).
    -- This mart is rebuilt in full (a few rows per listener and year): its top lists carry
    -- names, which change without a play (a spelling, a primary genre).
    select * from {{ ref('int_year_totals') }}

),

biggest_day as (

    select * from {{ ref('int_recap_biggest_days') }}

),

longest_streak as (

    select * from {{ ref('int_recap_streaks') }}

),

new_music as (

    select * from {{ ref('int_recap_discoveries') }}

),

top_genre as (

    select * from {{ ref('int_recap_top_genres') }}

),

top_lists as (

    select * from {{ ref('int_recap_top_lists') }}

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
