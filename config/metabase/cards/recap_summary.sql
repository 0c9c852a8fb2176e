-- Every year's recap side by side.
select year, minutes_played, plays, active_days, sessions, distinct_artists, new_artists,
    new_tracks, longest_streak_days, biggest_day, top_artist, top_genre
from agg_year_recap
where true [[and account = {{listener}}]]
order by year desc
