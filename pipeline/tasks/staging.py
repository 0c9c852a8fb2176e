"""The staging tasks: one UTC day's plays (``StagePlays``), or every stale day (``StageAllPlays``).

The logic is the Luigi-free ``pipeline.staging``. ``StagePlays(date)`` stages one day (the
daily run); ``StageAllPlays`` stages every stale day in one streaming pass, a month at a time,
which is what a ten-year import needs (3,650 Luigi tasks would cost more than the work).
"""

from __future__ import annotations

import datetime as dt

import luigi

from pipeline.staging.inputs import inputs_by_date, stale_days
from pipeline.staging.memo import all_current, day_is_current
from pipeline.tasks.base import current_lake, report_progress, status_message, timed_result


class StagePlays(luigi.Task):
    """The deduplicated plays of one UTC day, from every source."""

    date: dt.date = luigi.DateParameter()
    #: Staging outranks the build (priority 0): a range stages all its days, then builds once.
    priority = 10

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(current_lake().plays_partition(self.date)))

    def complete(self) -> bool:
        return day_is_current(current_lake(), self.date)

    def run(self) -> None:
        from pipeline.staging.partitions import stage_days  # the work: see tasks/__init__

        the_lake = current_lake()
        with timed_result(self, "plays", self.date) as result:
            result["rows"] = stage_days(the_lake, [self.date], inputs_by_date(the_lake))
        status_message(self, f"{result['rows']} plays")


class StageAllPlays(luigi.Task):
    """Every day whose partition is missing or stale, in one streaming pass (bulk imports)."""

    priority = 10  # before any build (see StagePlays)

    def complete(self) -> bool:
        return all_current(current_lake())

    def report_month(self, done: int, total: int, month: str) -> None:
        """One month is being staged: the visualiser shows "month 2019-04 (48/120)"."""
        report_progress(self, 100 * done / max(total, 1), f"month {month} ({done + 1}/{total})")

    def run(self) -> None:
        from pipeline.staging.partitions import stage_stale_days  # the work: see tasks/__init__

        the_lake = current_lake()
        days, index = stale_days(the_lake)
        with timed_result(self, "plays") as result:
            report_progress(self, 0, f"staging {len(days)} days")
            result["rows"] = stage_stale_days(the_lake, days, index, self.report_month)
        status_message(self, f"{result['rows']} plays over {len(days)} days")
