-- Artists by how much they matter to you (tiers from your own listening time, all time).
select listening_tier, count(*) as artists, round(sum(minutes_played), 0) as minutes_played
from agg_popularity_tiers
where item_type = 'artist' [[and account = {{listener}}]]
group by 1
order by min(minutes_rank)
