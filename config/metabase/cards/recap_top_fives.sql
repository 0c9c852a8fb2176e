-- The year's top 5 artists, tracks, albums and genres.
select item_type, item_rank, item_name, item_subtitle, plays, minutes_played
from agg_year_recap_top
where true [[and year = {{year}}]] [[and account = {{listener}}]]
order by case item_type when 'artist' then 1 when 'track' then 2 when 'album' then 3 else 4 end,
    item_rank
