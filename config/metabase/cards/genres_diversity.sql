-- Genre diversity per month: effective number of genres (exp of Shannon entropy) and evenness.
select month_start, distinct_genres, round(effective_genres, 2) as effective_genres,
    round(genre_evenness, 3) as genre_evenness, round(unknown_share, 3) as unknown_share
from agg_genre_diversity_monthly
where true [[and year(month_start) = {{year}}]] [[and account = {{listener}}]]
order by month_start
