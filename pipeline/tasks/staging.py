"""Stage plays into dated partitions: every source, one deduplicated file per UTC day.

Inputs of a day are discovered, not required: the import units whose provenance lists the day,
and the poll files landed under ``polls/account=*/date=D/``. Each partition stores the list of
inputs it was built from, and ``complete()`` compares that list with what is there now, so a
day that receives new plays (a later poll, a new import) is rebuilt by the next run.

``StagePlays(date)`` stages one day (the daily run); ``StageAllPlays`` stages every stale day in
one streaming pass, a month at a time, which is what a ten-year import needs (3,650 Luigi tasks
would cost more than the work).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import luigi
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from pipeline import schemas
from pipeline.io.atomic import clean_temp_files, write_json_atomic
from pipeline.io.markers import fingerprint
from pipeline.io.parquet import read_provenance, write_parquet_atomic
from pipeline.paths import Lake
from pipeline.settings import get_settings
from pipeline.tasks.base import current_lake, report_progress, status_message, timed_result
from pipeline.tasks.imports import unit_dates
from pipeline.transform.dedupe import dedupe_plays, show_key, shows_digest

logger = logging.getLogger(__name__)

#: A temp file untouched this long belongs to a killed writer, not a running one.
STALE_TEMP_SECONDS = 3600


class StagingInputError(RuntimeError):
    """A staged input cannot be read; staging stops rather than drop its plays."""


def inputs_by_date(the_lake: Lake) -> dict[dt.date, list[Path]]:
    """Map every UTC day that has plays to the files holding them (sorted, deterministic)."""
    found: dict[dt.date, list[Path]] = defaultdict(list)
    if the_lake.import_units_dir.exists():
        for unit in sorted(the_lake.import_units_dir.glob("*.parquet")):
            if read_provenance(unit) is None:
                # Skipping it would silently drop its plays from every day it covers.
                raise StagingInputError(
                    f"{unit} is unreadable (corrupt or truncated); run `music-tracker rebuild` "
                    "to re-create it from raw/ (nothing else is changed until then)"
                )
            for day in unit_dates(unit):
                found[dt.date.fromisoformat(day)].append(unit)
    if the_lake.polls_dir.exists():
        for poll in sorted(the_lake.polls_dir.glob("account=*/date=*/*.parquet")):
            day = poll.parent.name.removeprefix("date=")
            found[dt.date.fromisoformat(day)].append(poll)
    return {day: sorted(paths) for day, paths in found.items()}


def _names(the_lake: Lake, paths: list[Path]) -> list[str]:
    return [str(p.relative_to(the_lake.staged)) for p in paths]


def podcast_shows(index: dict[dt.date, list[Path]]) -> set[tuple[str, str]]:
    """(account, show key) of every show played as a podcast in any staged input.

    What recognises a podcast in the oldest account-data files (see
    ``dedupe.recognise_podcasts``): the account's other files name the same shows.
    """
    paths = sorted({str(p) for found in index.values() for p in found})
    if not paths:
        return set()
    table = ds.dataset(paths, format="parquet", schema=schemas.PLAYS).to_table(
        columns=["account", "show_name"],
        filter=(ds.field("content_type") == "podcast") & ds.field("show_name").is_valid(),
    )
    pairs = table.group_by(["account", "show_name"]).aggregate([]).to_pylist()
    return {(str(r["account"]), show_key(str(r["show_name"]))) for r in pairs}


def partition_is_current(
    the_lake: Lake, day: dt.date, inputs: list[Path], shows: str | None = None
) -> bool:
    """Whether the day's partition exists and was built from exactly these inputs.

    ``shows`` is the current ``shows_digest``: a partition holding account-data rows records
    the digest it was built with, and is stale when a new podcast show became known.
    """
    target = the_lake.plays_partition(day)
    if not target.exists():
        return False
    prov = read_provenance(target)
    if prov is None or prov.get("inputs") != _names(the_lake, inputs):
        return False
    return shows is None or prov.get("podcast_shows", shows) == shows


def _read_days(dataset: ds.Dataset, days: list[dt.date]) -> pa.Table:
    """Rows of ``dataset`` that fall on ``days``, cast to the plays schema."""
    lo = dt.datetime.combine(min(days), dt.time(), tzinfo=dt.UTC)
    hi = dt.datetime.combine(max(days) + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    table = dataset.to_table(
        filter=(ds.field("played_at") >= pa.scalar(lo, schemas.UTC_MS))
        & (ds.field("played_at") < pa.scalar(hi, schemas.UTC_MS))
    )
    if len(days) < (max(days) - min(days)).days + 1:
        wanted = pa.array(days, pa.date32())
        table = table.filter(pc.is_in(pc.cast(table["played_at"], pa.date32()), wanted))
    return table


def _day_slices(plays: pa.Table) -> dict[dt.date, pa.Table]:
    """Split plays sorted by ``played_at`` into one zero-copy slice per UTC day."""
    if plays.num_rows == 0:
        return {}
    counts = pc.value_counts(pc.cast(plays["played_at"], pa.date32()))
    slices: dict[dt.date, pa.Table] = {}
    start = 0
    for day, count in zip(
        counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True
    ):
        slices[day] = plays.slice(start, count)
        start += count
    return slices


def stage_days(
    the_lake: Lake,
    days: list[dt.date],
    index: dict[dt.date, list[Path]],
    on_month: Callable[[int, int, str], None] | None = None,
) -> int:
    """Write the partitions of ``days`` (a month at a time); return how many plays were kept.

    Each month reads only the inputs its days name (units are sorted by time, so the filter
    reads only their overlapping row groups), is deduplicated in one pass, and its day files
    are written by a small thread pool (Parquet encoding and fsync release the GIL): a
    ten-year import writes ~3,650 partitions. ``on_month(done, total, "YYYY-MM")`` hears of
    each month as it starts (the task's progress).
    """
    settings = get_settings()
    window = settings.dedupe.match_window_seconds
    shows = podcast_shows(index)
    digest = shows_digest(shows)
    by_month: dict[tuple[int, int], list[dt.date]] = defaultdict(list)
    for day in sorted(days):
        by_month[(day.year, day.month)].append(day)
    kept = 0
    empty = schemas.empty(schemas.PLAYS)
    with ThreadPoolExecutor(max_workers=max(2, settings.duckdb.threads)) as pool:
        pending: list[Future[None]] = []
        for number, ((year, month), month_days) in enumerate(by_month.items()):
            if on_month is not None:
                on_month(number, len(by_month), f"{year:04d}-{month:02d}")
            # Only the inputs of this month's days: opening every unit's footer for every
            # month made reading 70% of a ten-year import's staging time.
            paths = sorted({str(p) for d in month_days for p in index.get(d, [])})
            table = (
                _read_days(ds.dataset(paths, format="parquet", schema=schemas.PLAYS), month_days)
                if paths
                else empty
            )
            plays = dedupe_plays(table, window, shows).plays
            slices = _day_slices(plays)
            for day in month_days:
                part = slices.get(day, empty)
                provenance: dict[str, object] = {"inputs": _names(the_lake, index.get(day, []))}
                if pc.any(pc.equal(part["source"], "export_account")).as_py():
                    provenance["podcast_shows"] = digest
                pending.append(
                    pool.submit(_write_partition, the_lake.plays_partition(day), part, provenance)
                )
                kept += part.num_rows
            # Bound the queue (memory) and surface a failed write before going on.
            while len(pending) > 64:
                _finish(pending.pop(0))

        for future in pending:
            _finish(future)
    return kept


def _finish(future: Future[None]) -> None:
    """Wait for one partition write (raises its error)."""
    future.result()


def _write_partition(target: Path, part: pa.Table, provenance: dict) -> None:
    """Write one day's partition; a failure names the partition and what was kept."""
    try:
        write_parquet_atomic(target, part, provenance, compression="snappy")
    except OSError as exc:
        raise StagingWriteError(
            f"could not write {target}: {exc.strerror or exc}; the previous version of that "
            "partition is kept, rerun when the problem is fixed"
        ) from exc


class StagingWriteError(RuntimeError):
    """A partition could not be written (disk full, permissions); the old one is kept."""


def staging_memo_file(the_lake: Lake) -> Path:
    """Where the fingerprints of a fully current staging are kept (a cache, see below)."""
    return the_lake.state / "staging_current.json"


def staging_fingerprints(the_lake: Lake) -> dict[str, dict[str, str]]:
    """(path, size, mtime) fingerprints of staging's inputs and of its partitions.

    Cheap: a walk with ``stat`` only. Checking every partition's provenance instead reads
    thousands of Parquet footers plus every podcast row (measured: ~2.5 s per scheduling pass
    at 1M plays, most of a no-op cycle).
    """
    return {
        "imports": fingerprint(the_lake.import_units_dir),
        "polls": fingerprint(the_lake.polls_dir),
        "plays": fingerprint(the_lake.plays_dir),
    }


def staging_known_current(the_lake: Lake) -> bool:
    """Whether nothing staging reads or writes changed since it was last found all current."""
    try:
        memo = json.loads(staging_memo_file(the_lake).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return memo == staging_fingerprints(the_lake)


def remember_staging_current(the_lake: Lake) -> None:
    """Record that every partition is current for the inputs as they are now."""
    write_json_atomic(staging_memo_file(the_lake), staging_fingerprints(the_lake))


class StagePlays(luigi.Task):
    """The deduplicated plays of one UTC day, from every source."""

    date: dt.date = luigi.DateParameter()
    #: Staging outranks the build (priority 0): a range stages all its days, then builds once.
    priority = 10

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(current_lake().plays_partition(self.date)))

    def complete(self) -> bool:
        the_lake = current_lake()
        if the_lake.plays_partition(self.date).exists() and staging_known_current(the_lake):
            return True
        index = inputs_by_date(the_lake)
        digest = shows_digest(podcast_shows(index))
        return partition_is_current(the_lake, self.date, index.get(self.date, []), digest)

    def run(self) -> None:
        the_lake = current_lake()
        with timed_result(self, "plays", self.date) as result:
            result["rows"] = stage_days(the_lake, [self.date], inputs_by_date(the_lake))
        status_message(self, f"{result['rows']} plays")


class StageAllPlays(luigi.Task):
    """Every day whose partition is missing or stale, in one streaming pass (bulk imports)."""

    priority = 10  # before any build (see StagePlays)

    def stale_days(self) -> tuple[list[dt.date], dict[dt.date, list[Path]]]:
        the_lake = current_lake()
        index = inputs_by_date(the_lake)
        digest = shows_digest(podcast_shows(index))
        stale = [
            d for d, paths in index.items() if not partition_is_current(the_lake, d, paths, digest)
        ]
        return sorted(stale), index

    def complete(self) -> bool:
        the_lake = current_lake()
        if staging_known_current(the_lake):
            return True
        if self.stale_days()[0]:
            return False
        remember_staging_current(the_lake)  # a cache: the next pass only stats the files
        return True

    def report_month(self, done: int, total: int, month: str) -> None:
        """One month is being staged: the visualiser shows "month 2019-04 (48/120)"."""
        report_progress(self, 100 * done / max(total, 1), f"month {month} ({done + 1}/{total})")

    def run(self) -> None:
        days, index = self.stale_days()
        # Temp files of runs killed mid-write are invisible to readers; reap the old ones.
        clean_temp_files(current_lake().staged, older_than_s=STALE_TEMP_SECONDS)
        with timed_result(self, "plays") as result:
            report_progress(self, 0, f"staging {len(days)} days")
            result["rows"] = stage_days(current_lake(), days, index, self.report_month)
        remember_staging_current(current_lake())
        status_message(self, f"{result['rows']} plays over {len(days)} days")
