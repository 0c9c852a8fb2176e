-- Minutes by day part (night 00-05, morning 06-11, afternoon 12-17, evening 18-23).
select t.day_part, t.day_part_order, round(sum(f.ms_played) / 60000.0, 1) as minutes_played,
    count(*) as plays
from fct_plays f
join dim_time t using (time_sk)
where true [[and year(f.local_date) = {{year}}]] [[and f.account = {{listener}}]]
group by 1, 2
order by 2
