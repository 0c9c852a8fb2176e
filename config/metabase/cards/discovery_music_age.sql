-- How old the music is: minutes by release decade (album release year; Unknown until the
-- catalogue lookup arrives).
select release_decade, round(sum(minutes_played), 0) as minutes_played
from agg_music_age
where true [[and play_year = {{year}}]] [[and account = {{listener}}]]
group by 1
order by 1
