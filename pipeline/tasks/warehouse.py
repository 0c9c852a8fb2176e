"""The warehouse tasks: build it with dbt (``DbtBuild``) and publish it for Metabase
(``PublishReporting``).

The logic is the Luigi-free ``pipeline.warehouse`` (the build, what changed, dbt's process) and
``pipeline.reporting`` (the publish). ``DbtBuild(date)`` is complete when the last build saw
every staged file of ``date`` and before as it is now (``warehouse.current``): new plays or
lookups make it run again, while a backfill staging later days leaves earlier builds complete.
``PublishReporting(date)`` is complete when the last publish was of the last build.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import luigi

from pipeline.reporting import is_published
from pipeline.tasks.base import current_lake, report_progress, status_message, timed_result
from pipeline.tasks.staging import StagePlays
from pipeline.warehouse.current import build_is_current


@contextmanager
def whole_suite(enabled: bool = True) -> Iterator[None]:
    """Within the block, every ``DbtBuild`` built (even by another task's ``requires()``) runs
    the whole suite: every model, every period, every test on every row.

    ``cron daily`` and ``music-tracker rebuild`` use it, so a day's 48 cycles test only what
    they rebuilt and the daily run still checks everything (and heals any drift). It sets the
    ``[DbtBuild] full_tests`` Luigi config, the one way to reach the instances that other
    tasks' ``requires()`` create.
    """
    if not enabled:
        yield
        return
    config = luigi.configuration.get_config()
    before = config.get("DbtBuild", "full_tests", None)
    if not config.has_section("DbtBuild"):
        config.add_section("DbtBuild")
    config.set("DbtBuild", "full_tests", "true")
    try:
        yield
    finally:
        if before is None:
            config.remove_option("DbtBuild", "full_tests")
        else:
            config.set("DbtBuild", "full_tests", before)


class DbtBuild(luigi.Task):
    """``dbt build`` of the star schema, once per change of the staged data."""

    date: dt.date = luigi.DateParameter(batch_method=max)
    full_refresh: bool = luigi.BoolParameter(default=False, significant=False)
    #: Every model, every period and every test on every row (``cron daily``, ``rebuild``);
    #: otherwise a build selects what the changed inputs reach and tests the rows it rebuilt.
    full_tests: bool = luigi.BoolParameter(default=False, significant=False)
    resources = {"warehouse": 1}

    def requires(self) -> list[luigi.Task]:
        from pipeline.tasks.enrichment import EnrichArtists, EnrichCatalogue, GeocodeOrigins

        return [
            StagePlays(date=self.date),
            EnrichCatalogue(date=self.date),
            EnrichArtists(date=self.date),
            GeocodeOrigins(date=self.date),
        ]

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(current_lake().dbt_run_marker(self.date)))

    def complete(self) -> bool:
        if not all(t.complete() for t in luigi.task.flatten(self.requires())):
            return False
        return build_is_current(current_lake(), self.date, self.full_tests)

    def start_dbt_ahead(self, dependency: luigi.Task) -> None:
        """Luigi found this build incomplete and is adding its inputs: start dbt's interpreter
        now (``warehouse.warm``). Its ~2.7 s of imports and parse then overlap the inputs'
        checks, the enrichment and the build's preparation, on the other core; the run's end
        stops it if the build never comes (``runner.run_luigi``). Only where the runner allows
        it (``warm.starting_ahead``: its worker runs the build in this process)."""
        from pipeline.warehouse import warm
        from pipeline.warehouse.run import warm_up

        if warm.may_start_ahead():
            warm_up(current_lake())

    def report_dbt_progress(self, done: int, total: int, message: str) -> None:
        """One dbt node started or finished: the visualiser shows "model 23/39: fct_plays"."""
        report_progress(self, 100 * done / max(total, 1), f"dbt build: {message}")

    def run(self) -> None:
        from pipeline.warehouse.build import build_warehouse  # the work: see tasks/__init__

        candidates = sys.modules.get("pipeline.enrich.candidates")
        if candidates is not None:  # the enrichment ran in this process: its reads are done
            from pipeline.io.duck import release_memory

            candidates.forget_kept()  # and dbt's peak is this worker's memory plus dbt's,
            release_memory()  # so hand the pages back before it starts, not after
        with timed_result(self, "warehouse", self.date) as result:
            marker = build_warehouse(
                current_lake(),
                self.date,
                full_refresh=self.full_refresh,
                full_tests=self.full_tests,
                on_progress=self.report_dbt_progress,
                on_status=lambda message: status_message(self, message),
            )
            result["rows"] = sum(marker.get("counts", {}).values())
        status_message(self, f"dbt: {marker.get('counts', marker.get('reason'))}")


# Luigi calls it for each input it adds to an incomplete DbtBuild (so the build will run).
DbtBuild.event_handler(luigi.Event.DEPENDENCY_DISCOVERED)(DbtBuild.start_dbt_ahead)


class PublishReporting(luigi.Task):
    """Export the marts for Metabase without ever locking the warehouse it reads."""

    date: dt.date = luigi.DateParameter(batch_method=max)
    resources = {"warehouse": 1}

    def requires(self) -> DbtBuild:
        return DbtBuild(date=self.date)

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(current_lake().publish_marker(self.date)))

    def complete(self) -> bool:
        return self.requires().complete() and is_published(current_lake())

    def report_mart(self, done: int, total: int, name: str) -> None:
        """One mart is being exported: the visualiser shows "publish 3/9: fct_plays"."""
        report_progress(self, 100 * done / max(total, 1), f"publish {done + 1}/{total}: {name}")

    def run(self) -> None:
        from pipeline.reporting import publish  # the work: see tasks/__init__

        with timed_result(self, "reporting", self.date) as result:
            marts = publish(current_lake(), self.date, on_mart=self.report_mart)
            result["rows"] = sum(marts.values())
        status_message(self, f"published {len(marts)} marts")
