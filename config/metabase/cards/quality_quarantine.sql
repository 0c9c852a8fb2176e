-- Rows that could not become plays, by reason (nothing is dropped silently).
select detail as reason, measured as rows
from agg_data_quality
where check_name = 'quarantined_rows' and detail <> 'all'
order by measured desc
