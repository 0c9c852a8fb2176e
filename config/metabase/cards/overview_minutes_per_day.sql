-- Minutes per local day, music and spoken word apart.
select local_date, sum(music_minutes) as music_minutes,
    sum(podcast_minutes + audiobook_minutes) as spoken_minutes
from agg_daily_listening
where true [[and year(local_date) = {{year}}]] [[and account = {{listener}}]]
group by local_date
order by local_date
