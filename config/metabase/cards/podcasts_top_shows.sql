-- The most-listened shows and audiobooks.
select show_name, content_type, sum(episodes) as episodes, round(sum(minutes_played), 0) as minutes_played
from agg_spoken_word
where true [[and year(month_start) = {{year}}]] [[and account = {{listener}}]]
group by 1, 2
order by minutes_played desc
limit 15
