-- The year's top 10 artists by minutes.
select item_name as artist, minutes_played, plays
from agg_top_items
where period_grain = 'year' and item_type = 'artist' and item_rank <= 10
    [[and period_label = cast({{year}} as varchar)]] [[and account = {{listener}}]]
order by minutes_played desc, item_rank
