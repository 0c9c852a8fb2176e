-- The latest podcast episodes and audiobook chapters played.
select local_date, coalesce(show_name, audiobook_title) as show_name,
    coalesce(episode_name, audiobook_chapter_title) as episode,
    round(ms_played / 60000.0, 1) as minutes_played
from fct_plays
where content_type in ('podcast', 'audiobook') [[and year(local_date) = {{year}}]] [[and account = {{listener}}]]
order by played_at desc
limit 25
