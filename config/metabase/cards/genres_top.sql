-- The year's top genres (artist genres weighted by tag votes).
select item_name as genre, minutes_played, round(share_of_period, 3) as share
from agg_top_items
where period_grain = 'year' and item_type = 'genre'
    [[and period_label = cast({{year}} as varchar)]] [[and account = {{listener}}]]
order by item_rank
limit 15
