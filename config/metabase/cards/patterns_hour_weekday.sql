-- Minutes by local weekday (rows) and local hour (columns), in each listener's own time zone
-- (DST-correct).
select local_iso_weekday as iso_weekday,
    ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'][local_iso_weekday] as weekday,
    round(sum(ms_played) filter (where local_hour = 0) / 60000.0, 0) as h00,
    round(sum(ms_played) filter (where local_hour = 1) / 60000.0, 0) as h01,
    round(sum(ms_played) filter (where local_hour = 2) / 60000.0, 0) as h02,
    round(sum(ms_played) filter (where local_hour = 3) / 60000.0, 0) as h03,
    round(sum(ms_played) filter (where local_hour = 4) / 60000.0, 0) as h04,
    round(sum(ms_played) filter (where local_hour = 5) / 60000.0, 0) as h05,
    round(sum(ms_played) filter (where local_hour = 6) / 60000.0, 0) as h06,
    round(sum(ms_played) filter (where local_hour = 7) / 60000.0, 0) as h07,
    round(sum(ms_played) filter (where local_hour = 8) / 60000.0, 0) as h08,
    round(sum(ms_played) filter (where local_hour = 9) / 60000.0, 0) as h09,
    round(sum(ms_played) filter (where local_hour = 10) / 60000.0, 0) as h10,
    round(sum(ms_played) filter (where local_hour = 11) / 60000.0, 0) as h11,
    round(sum(ms_played) filter (where local_hour = 12) / 60000.0, 0) as h12,
    round(sum(ms_played) filter (where local_hour = 13) / 60000.0, 0) as h13,
    round(sum(ms_played) filter (where local_hour = 14) / 60000.0, 0) as h14,
    round(sum(ms_played) filter (where local_hour = 15) / 60000.0, 0) as h15,
    round(sum(ms_played) filter (where local_hour = 16) / 60000.0, 0) as h16,
    round(sum(ms_played) filter (where local_hour = 17) / 60000.0, 0) as h17,
    round(sum(ms_played) filter (where local_hour = 18) / 60000.0, 0) as h18,
    round(sum(ms_played) filter (where local_hour = 19) / 60000.0, 0) as h19,
    round(sum(ms_played) filter (where local_hour = 20) / 60000.0, 0) as h20,
    round(sum(ms_played) filter (where local_hour = 21) / 60000.0, 0) as h21,
    round(sum(ms_played) filter (where local_hour = 22) / 60000.0, 0) as h22,
    round(sum(ms_played) filter (where local_hour = 23) / 60000.0, 0) as h23
from fct_plays
where true [[and year(local_date) = {{year}}]] [[and account = {{listener}}]]
group by 1, 2
order by 1
