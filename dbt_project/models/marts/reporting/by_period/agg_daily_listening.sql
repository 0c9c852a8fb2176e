-- depends_on: {{ ref('int_reporting_window') }}
-- Incremental by local day (macro reporting_window): a build recomputes the local days from
-- int_reporting_window's first day on, and keeps the others; a full refresh gives the same rows.
-- One row per listener and local day with any play: what, how much, how attentively.
with

plays as (

    select * from {{ ref('int_plays_with_discoveries') }}
    {%- if is_incremental() %}
    where local_date >= {{ reporting_since() }}
    {%- endif %}

),

final as (

    select
        ---------- keys
        listener_sk,
        date_sk,

        ---------- strings
        account,

        ---------- numerics
        count(*) as plays,
        sum(ms_played) as ms_played,
        round(sum(ms_played) / 60000.0, 2) as minutes_played,
        round(coalesce(sum(ms_played) filter (where content_type = 'music'), 0) / 60000.0, 2)
            as music_minutes,
        round(coalesce(sum(ms_played) filter (where content_type = 'podcast'), 0) / 60000.0, 2)
            as podcast_minutes,
        round(coalesce(sum(ms_played) filter (where content_type = 'audiobook'), 0) / 60000.0, 2)
            as audiobook_minutes,
        count(distinct track_sk) filter (where content_type = 'music') as distinct_tracks,
        count(distinct artist_sk) filter (where content_type = 'music') as distinct_artists,
        count(distinct session_sk) as sessions,
        count(*) filter (where is_first_track_play) as new_tracks,
        count(*) filter (where is_first_artist_play) as new_artists,
        avg(case when is_skipped then 1.0 when is_skipped is not null then 0.0 end)
            filter (where content_type = 'music') as skip_rate,
        avg(case when is_completed then 1.0 when is_completed is not null then 0.0 end)
            filter (where content_type = 'music') as completion_rate,
        avg(case when is_shuffle then 1.0 when is_shuffle is not null then 0.0 end)
            filter (where content_type = 'music') as shuffle_share,

        ---------- dates
        local_date

    from plays
    group by listener_sk, date_sk, account, local_date

)

select * from final
