-- Every data-quality check: plays with unknown dimensions, enrichment coverage, gaps,
-- quarantined rows.
select category, check_name, detail, measured, total, round(share, 3) as share
from agg_data_quality
order by category, check_name, detail
