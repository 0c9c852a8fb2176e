-- Each listener's monthly genre shares add up to 1.
select listener_sk, month_start, sum(share_of_month) as total
from {{ ref('agg_genre_share_monthly') }}
group by listener_sk, month_start
having abs(sum(share_of_month) - 1) > 1e-9
