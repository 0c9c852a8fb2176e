-- depends_on: {{ ref('int_reporting_window') }}
-- Incremental by local month (macro reporting_window): a build recomputes the local months from
-- int_reporting_window's first day on, and keeps the others; a full refresh gives the same rows.
-- Podcasts and audiobooks, kept apart from music: per listener, show (or audiobook) and
-- local month.
with

plays as (

    select * from {{ ref('fct_plays') }}
    where content_type in ('podcast', 'audiobook')
    {%- if is_incremental() %}
        and local_date >= date_trunc('month', {{ reporting_since() }})
    {%- endif %}

),

final as (

    select
        ---------- keys
        {{ generate_surrogate_key([
            'listener_sk', 'content_type',
            "coalesce(show_name, audiobook_title, 'Unknown')",
            "date_trunc('month', local_date)"
        ]) }} as spoken_word_sk,
        listener_sk,

        ---------- strings
        account,
        content_type,
        coalesce(show_name, audiobook_title, 'Unknown') as show_name,
        strftime(date_trunc('month', local_date), '%Y-%m') as year_month,

        ---------- numerics
        count(*) as plays,
        count(distinct coalesce(episode_id, episode_name, audiobook_chapter_title)) as episodes,
        round(sum(ms_played) / 60000.0, 2) as minutes_played,

        ---------- dates
        cast(date_trunc('month', local_date) as date) as month_start,
        max(local_date) as last_played_date

    from plays
    group by all

)

select * from final
