-- The longest runs of consecutive days with music or podcasts.
select streak_start_date, streak_end_date, streak_days, minutes_played
from agg_listening_streaks
where true [[and year(streak_end_date) = {{year}}]] [[and account = {{listener}}]]
order by streak_days desc, streak_start_date
limit 10
