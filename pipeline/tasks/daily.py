"""The day's run: the wrapper cron calls, and RangeDaily fills gaps over."""

from __future__ import annotations

import datetime as dt

import luigi

from pipeline.tasks.staging import StagePlays
from pipeline.tasks.warehouse import PublishReporting


class DailyPipeline(luigi.WrapperTask):
    """Stage the day's plays, build the warehouse and publish it for Metabase."""

    date: dt.date = luigi.DateParameter()

    def requires(self) -> list[luigi.Task]:
        return [StagePlays(date=self.date), PublishReporting(date=self.date)]
