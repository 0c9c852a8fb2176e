-- depends_on: {{ ref('int_reporting_window') }}
-- Incremental by local year (macro reporting_window): a build recomputes the local years from
-- int_reporting_window's first day on, and keeps the others; a full refresh gives the same rows.
-- How old the music is when played: release year (album release, from the catalogue) against
-- the local play year, per listener. Plays of albums without a known release year are kept
-- with a null release year, so coverage is visible.
with

plays as (

    select * from {{ ref('fct_plays') }}
    where content_type = 'music'
    {%- if is_incremental() %}
        and local_date >= date_trunc('year', {{ reporting_since() }})
    {%- endif %}

),

albums as (

    select album_sk, release_year from {{ ref('dim_album') }}

),

grouped as (

    select
        plays.listener_sk,
        plays.account,
        year(plays.local_date) as play_year,
        albums.release_year,
        count(*) as plays,
        sum(plays.ms_played) as ms_played

    from plays
    inner join albums on plays.album_sk = albums.album_sk
    group by all

),

final as (

    select
        ---------- keys
        {{ generate_surrogate_key(['listener_sk', 'play_year', 'release_year']) }} as music_age_sk,
        listener_sk,

        ---------- strings
        account,
        case when release_year is null then 'Unknown'
            else cast((release_year // 10) * 10 as varchar) || 's' end as release_decade,

        ---------- numerics
        play_year,
        release_year,
        play_year - release_year as music_age_years,
        plays,
        round(ms_played / 60000.0, 2) as minutes_played

    from grouped

)

select * from final
