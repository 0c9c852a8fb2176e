-- Artists first played most recently, with how much you have listened since.
select item_name as artist, first_played_date, plays, minutes_played, listening_tier
from agg_popularity_tiers
where item_type = 'artist' [[and year(first_played_date) = {{year}}]] [[and account = {{listener}}]]
order by first_played_date desc, minutes_played desc
limit 20
