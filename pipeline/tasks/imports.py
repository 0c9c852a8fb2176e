"""Luigi wiring of the export imports: ``ExternalExportFile`` -> ``ImportExport(s)``.

``ImportExport(file=PATH)`` imports one ``.json`` export file or Spotify's ``.zip``;
``ImportExports(files)`` imports several side by side. The work (raw copy, archive handling,
parsing, the unit and its quarantine) is ``pipeline.ingest.exports.import_file``.
"""

from __future__ import annotations

from pathlib import Path

import luigi

from pipeline.ingest.units import unit_id
from pipeline.io.parquet import read_provenance
from pipeline.settings import get_settings
from pipeline.tasks.base import current_lake, report_progress, status_message, timed_result

__all__ = ["ExternalExportFile", "ImportExport", "ImportExports"]


class ExternalExportFile(luigi.ExternalTask):
    """A Spotify export file handed to an import: outside input, so only an ``output()``.

    A file that is not there makes its import MISSING in Luigi's summary and the visualiser,
    named with its path (exit code ``missing_data``), instead of an error inside ``complete()``.
    """

    file: str = luigi.Parameter(description="A Streaming History .json file or Spotify's .zip")

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(self.file)


class ImportExport(luigi.Task):
    """Import one Spotify export file (.json or .zip) for one account."""

    file: str = luigi.Parameter(description="A Streaming History .json file or Spotify's .zip")
    account: str = luigi.Parameter(default="", description="Listener; default_account if empty")
    #: Inputs land first, then staging (10), then the build (0), when one run holds them all.
    priority = 20

    def _account(self) -> str:
        return self.account or get_settings().default_account

    def requires(self) -> ExternalExportFile:
        return ExternalExportFile(file=self.file)

    def output(self) -> luigi.LocalTarget:
        path = Path(self.file)
        if not path.is_file():
            # The unit is named by the file's content, unknown without the file; this path
            # never exists, so the import is incomplete and its missing input is reported.
            return luigi.LocalTarget(str(current_lake().import_units_dir / "missing-input"))
        return luigi.LocalTarget(str(current_lake().import_unit(unit_id(path, self._account()))))

    def complete(self) -> bool:
        # A unit that exists but cannot be read (a crash of the disk, not of ours: our writes
        # are atomic) is not an import: redo it from the file or raw/.
        return read_provenance(self.output().path) is not None

    def run(self) -> None:
        from pipeline.ingest.exports import import_file  # the work: see tasks/__init__

        path = Path(self.file)
        get_settings().account(self._account())  # fail early on an unknown listener
        with timed_result(self, "imports") as result:
            counts = import_file(path, self._account())
            result["rows"] = counts["plays"]
        status_message(
            self, f"{counts['plays']} plays, {counts['quarantined']} quarantined from {path.name}"
        )


class ImportExports(luigi.Task):
    """Import several export files at once: the unit of ``music-tracker import`` and ``rebuild``.

    Each file gets exactly what ``ImportExport`` gives it (raw copy, unit, quarantine, and the
    same completion check), but the files are parsed by ``duckdb.threads`` threads side by
    side: DuckDB reads one JSON array on one core, so a ten-year export (~70 files) imports in
    about half the time on two cores. Rerunning it imports only the files not done yet;
    ``ImportExport(file=...)`` still redoes one file alone.
    """

    files: tuple[str, ...] = luigi.ListParameter(description="Export files (.json or .zip)")
    account: str = luigi.Parameter(default="", description="Listener; default_account if empty")
    priority = 20  # as ImportExport

    def _singles(self) -> list[ImportExport]:
        return [ImportExport(file=f, account=self.account) for f in self.files]

    def requires(self) -> list[ExternalExportFile]:
        return [ExternalExportFile(file=f) for f in self.files]

    @staticmethod
    def _done(task: ImportExport) -> bool:
        try:
            return task.complete()
        except OSError:  # the file is gone or unreadable: run() names it
            return False

    def complete(self) -> bool:
        return all(self._done(task) for task in self._singles())

    def run(self) -> None:
        from pipeline.ingest.exports import import_files  # the work: see tasks/__init__

        todo = [task for task in self._singles() if not self._done(task)]
        if not todo:
            return
        get_settings().account(todo[0]._account())  # fail early on an unknown listener
        n = len(todo)
        with timed_result(self, "imports") as result:
            report_progress(self, 0, f"importing {n} files")
            batch = import_files(
                [(Path(t.file), t._account()) for t in todo],
                on_file=lambda done, name: report_progress(
                    self, 100 * done / n, f"file {done}/{n}: {name}"
                ),
            )
            result["rows"] = batch.plays
        if batch.failed:
            # The other files are imported (their units are complete); a rerun retries these.
            raise RuntimeError(
                f"{len(batch.failed)} of {n} files failed: " + "; ".join(batch.failed)
            )
        status_message(self, f"{batch.plays} plays, {batch.quarantined} quarantined from {n} files")
