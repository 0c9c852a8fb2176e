-- Music, podcasts and audiobooks: share of minutes.
select 'music' as content_type, round(sum(music_minutes), 1) as minutes_played
from agg_daily_listening where true [[and year(local_date) = {{year}}]] [[and account = {{listener}}]]
union all
select 'podcast', round(sum(podcast_minutes), 1) from agg_daily_listening where true [[and year(local_date) = {{year}}]] [[and account = {{listener}}]]
union all
select 'audiobook', round(sum(audiobook_minutes), 1) from agg_daily_listening where true [[and year(local_date) = {{year}}]] [[and account = {{listener}}]]
