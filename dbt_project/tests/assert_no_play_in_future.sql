-- No play ends after the build started (clock skew of a few minutes allowed).
select play_sk, played_at
from {{ ref('fct_plays') }}
where played_at > now() + interval 10 minute
