"""Enrichment tasks: Spotify catalogue, MusicBrainz artists, Nominatim origins.

Each task writes the dated lookup partitions of ``schemas.DATED_DATASETS`` holding the lookups
made on its runs of that day (with status, source, fetched_at; a second run adds to them);
earlier partitions are the cache, the SQLite state under ``state/lookups/`` says what is due,
and a run first forgets any answer of the state that no partition holds (``runs.reconcile``).
The three use different services and different Luigi ``resources``, so they run concurrently
(``GeocodeOrigins`` waits for ``EnrichArtists``, whose origins it geocodes). A service problem
never fails a task: it writes what it has (maybe zero rows) and says why in the status message,
so ``DbtBuild`` always runs.
"""

from __future__ import annotations

import datetime as dt
import logging

import luigi

from pipeline.enrich import runs
from pipeline.tasks.base import current_lake, progress_percentage, status_message, timed_result
from pipeline.tasks.staging import StagePlays

logger = logging.getLogger(__name__)


class _EnrichTask(luigi.Task):
    """Shared run(): call the service's run loop, land its result, report progress."""

    date: dt.date = luigi.DateParameter()
    datasets: tuple[str, ...] = ()
    dataset_label = "lookups"

    def requires(self) -> luigi.Task:
        return StagePlays(date=self.date)

    def output(self) -> dict[str, luigi.LocalTarget]:
        lake = current_lake()
        return {
            d: luigi.LocalTarget(str(lake.dated_partition(d, self.date))) for d in self.datasets
        }

    def progress(self, done: int, total: int, what: str) -> None:
        status_message(self, f"{done}/{total} {what}s")
        progress_percentage(self, int(100 * done / total) if total else 100)
        logger.info("%s: %d/%d %ss", self.get_task_family(), done, total, what)

    def enrich(self, ctx: runs.RunContext) -> runs.RunResult:
        raise NotImplementedError

    def run(self) -> None:
        lake = current_lake()
        ctx = runs.RunContext(lake, self.date, progress=self.progress)
        with timed_result(self, self.dataset_label, self.date) as result:
            try:
                outcome = self.enrich(ctx)
            except Exception as exc:  # noqa: BLE001 - enrichment never fails the build
                logger.exception("%s failed; writing an empty partition", self.get_task_family())
                outcome = runs.RunResult(runs.RunReport(self.dataset_label), None, {})
                outcome.report.stopped = f"error: {exc.__class__.__name__}: {exc}"
            runs.finish(lake, self.date, outcome, list(self.datasets))
            result["rows"] = sum(outcome.report.rows.values())
        status_message(self, outcome.report.summary())
        progress_percentage(self, 100)


class EnrichCatalogue(_EnrichTask):
    """Spotify tracks, albums and artists: harvested from polls, then fetched within budget."""

    datasets = (runs.ALBUMS, runs.ARTISTS, runs.TRACKS)
    dataset_label = "spotify_catalogue"
    resources = {"spotify_api": 1}

    def complete(self) -> bool:
        """Done for the day only while no saved poll waits to be harvested.

        Harvesting a poll costs no call, so it is part of every cycle: a poll saved after
        today's first run makes this task run again (adding to the day's partitions), and its
        tracks' metadata (every credited artist) reaches the warehouse in the same cycle
        instead of with the next UTC day's run.
        """
        if not super().complete():
            return False
        return not runs.unharvested_poll_files(current_lake())

    def enrich(self, ctx: runs.RunContext) -> runs.RunResult:
        return runs.run_catalogue(ctx, runs.spotify_token_provider())


class EnrichArtists(_EnrichTask):
    """MusicBrainz artists (genres, type, areas, life-span); by name, no Spotify call needed."""

    datasets = (runs.MB_ARTISTS,)
    dataset_label = "musicbrainz_artists"
    resources = {"musicbrainz": 1}

    def enrich(self, ctx: runs.RunContext) -> runs.RunResult:
        return runs.run_artists(ctx)


class GeocodeOrigins(_EnrichTask):
    """Coordinates, city, region and country of the artists' origins (Nominatim)."""

    datasets = (runs.GEO_PLACES,)
    dataset_label = "geo_places"
    resources = {"nominatim": 1}

    def requires(self) -> list[luigi.Task]:  # type: ignore[override]
        return [StagePlays(date=self.date), EnrichArtists(date=self.date)]

    def enrich(self, ctx: runs.RunContext) -> runs.RunResult:
        return runs.run_places(ctx)
