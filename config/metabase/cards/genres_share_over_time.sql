-- Share of music minutes per genre and month (the 8 biggest genres of the period, the rest as
-- "other"; Unknown = artists without genres yet).
with shares as (
    select * from agg_genre_share_monthly
    where true [[and year = {{year}}]] [[and account = {{listener}}]]
),
top as (
    select genre_name from shares group by 1 order by sum(minutes_played) desc limit 8
)
select s.month_start,
    case when s.genre_name in (select genre_name from top) then s.genre_name else 'other' end as genre,
    sum(s.share_of_month) as share_of_month
from shares s
group by 1, 2
order by 1, 3 desc
