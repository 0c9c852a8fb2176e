-- Podcast and audiobook minutes per month, kept apart from music.
select month_start, content_type, sum(minutes_played) as minutes_played
from agg_spoken_word
where true [[and year(month_start) = {{year}}]] [[and account = {{listener}}]]
group by 1, 2
order by 1, 2
