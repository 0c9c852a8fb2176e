-- Plays and skip rate by local hour.
select local_hour as hour_of_day, count(*) as plays,
    avg(case when is_skipped then 1.0 when is_skipped is not null then 0.0 end) as skip_rate
from fct_plays
where content_type = 'music' [[and year(local_date) = {{year}}]] [[and account = {{listener}}]]
group by 1
order by 1
