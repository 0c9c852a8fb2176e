"""The day's run: the task cron calls, ``music-tracker build`` runs, and RangeDaily fills gaps over.

``DailyPipeline(date)`` first stages (its own day, and every day whose inputs changed: what an
import or a missed run left, ``StageAllPlays``), then builds and publishes the warehouse once,
for the run's day, whatever ``date`` it was asked for. So:

- ``ImportExport ...`` then ``DailyPipeline --date D`` gives the warehouse ``music-tracker
  import`` gives (every imported day is staged, not only ``D``);
- ``RangeDaily --of DailyPipeline`` over any span stages the days and runs dbt once: every day
  of the range asks for the same ``PublishReporting(build day)``.

The build is a dynamic dependency yielded from ``run()``, which Luigi only starts once the
task's staging is done; staging tasks also outrank the build (``priority``), so the other days
of a range are staged before it. Staging after a build would change what the build saw and
fail its publish ("Unfulfilled dependency at run time").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

import luigi

from pipeline.staging.inputs import current_days
from pipeline.tasks.base import current_lake, status_message
from pipeline.tasks.staging import StageAllPlays, StagePlays
from pipeline.tasks.warehouse import PublishReporting
from pipeline.warehouse.current import build_day


class DailyPipeline(luigi.Task):
    """Stage the day's plays (and every stale day), build the warehouse once and publish it."""

    date: dt.date = luigi.DateParameter()

    def requires(self) -> list[luigi.Task]:
        return [StageAllPlays(), StagePlays(date=self.date)]

    def publish(self) -> PublishReporting:
        return PublishReporting(date=build_day(self.date))

    def complete(self) -> bool:
        return all(t.complete() for t in self.requires()) and self.publish().complete()

    @classmethod
    def bulk_complete(cls, parameter_tuples: Iterable[dt.date]) -> list[dt.date]:
        """The done days among ``parameter_tuples`` (RangeDaily), with one scan of the lake.

        Per-day ``complete()`` would index every input and podcast show once per day of the
        range (100 by default); the build is shared, so it is asked once.
        """
        days = list(parameter_tuples)
        if not days:
            return []
        if not StageAllPlays().complete():
            return []
        if not PublishReporting(date=build_day(max(days))).complete():
            return []
        return current_days(current_lake(), days)

    def run(self) -> Iterator[PublishReporting]:
        publish = self.publish()
        yield publish
        status_message(self, f"staged {self.date}; warehouse published for {publish.date}")
