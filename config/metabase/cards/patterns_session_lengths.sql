-- How long sessions last.
select case
        when duration_minutes < 15 then '1: under 15 min'
        when duration_minutes < 30 then '2: 15-30 min'
        when duration_minutes < 60 then '3: 30-60 min'
        when duration_minutes < 120 then '4: 1-2 h'
        else '5: over 2 h'
    end as session_length,
    count(*) as sessions
from fct_sessions
where true [[and year(local_date) = {{year}}]] [[and account = {{listener}}]]
group by 1
order by 1
