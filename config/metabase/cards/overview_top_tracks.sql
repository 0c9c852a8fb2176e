-- The year's top 10 tracks (releases of one recording merged by ISRC).
select item_rank as rank, item_name as track, item_subtitle as artist, plays, minutes_played
from agg_top_items
where period_grain = 'year' and item_type = 'track' and item_rank <= 10
    [[and period_label = cast({{year}} as varchar)]] [[and account = {{listener}}]]
order by item_rank
