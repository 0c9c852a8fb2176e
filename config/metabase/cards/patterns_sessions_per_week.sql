-- Sessions per week and their average length (minutes).
select cast(date_trunc('week', local_date) as date) as week_start, count(*) as sessions,
    round(avg(duration_minutes), 1) as avg_session_minutes
from fct_sessions
where true [[and year(local_date) = {{year}}]] [[and account = {{listener}}]]
group by 1
order by 1
