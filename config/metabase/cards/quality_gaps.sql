-- Stretches where polling may have missed plays (a full page newer than the cursor).
select account, gap_start, gap_end, gap_minutes, detected_at
from fct_poll_gaps
order by gap_start desc
