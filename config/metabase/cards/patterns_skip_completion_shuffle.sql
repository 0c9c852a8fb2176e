-- Skip rate, completion rate and shuffle share per month (music).
select strftime(local_date, '%Y-%m') as year_month,
    sum(skip_rate * plays) / sum(plays) as skip_rate,
    sum(completion_rate * plays) / sum(plays) as completion_rate,
    sum(shuffle_share * plays) / sum(plays) as shuffle_share
from agg_daily_listening
where skip_rate is not null [[and year(local_date) = {{year}}]] [[and account = {{listener}}]]
group by 1
order by 1
