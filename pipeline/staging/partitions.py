"""Write the daily play partitions: a month of inputs read at once, deduplicated, split by day.

A ten-year import writes ~3,650 partitions, so this streams a month at a time and writes the
day files from a small thread pool (Parquet encoding and fsync release the GIL).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from pipeline import schemas
from pipeline.io.atomic import AtomicBatch, clean_temp_files
from pipeline.io.parquet import write_parquet_atomic
from pipeline.paths import Lake
from pipeline.settings import get_settings
from pipeline.staging.inputs import InputIndex, inputs_fingerprint, podcast_shows
from pipeline.staging.memo import remember_staging_current
from pipeline.transform.dedupe import dedupe_plays, shows_digest

#: Months of day files made durable and renamed in together (``io.atomic.AtomicBatch``).
COMMIT_MONTHS = 12


class StagingWriteError(RuntimeError):
    """A partition could not be written (disk full, permissions); the old one is kept."""


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


def _days_with_source(plays: pa.Table, source: str) -> set[dt.date]:
    """The UTC days of ``plays`` holding a row from ``source``: asked once per month, not once
    per day (~3,650 Arrow calls at a ten-year import)."""
    rows = plays.filter(pc.equal(plays["source"], source))
    return set(pc.unique(pc.cast(rows["played_at"], pa.date32())).to_pylist())


def stage_days(
    the_lake: Lake,
    days: list[dt.date],
    index: InputIndex,
    on_month: Callable[[int, int, str], None] | None = None,
    shows: set[tuple[str, str]] | None = None,
) -> int:
    """Write the partitions of ``days`` (a month at a time); return how many plays were kept.

    Each month reads only the inputs its days name (units are sorted by time, so the filter
    reads only their overlapping row groups), is deduplicated in one pass, and its day files
    are written by a small thread pool into one ``AtomicBatch``: durable and renamed in
    together (a year at a time), not each with an fsync of its own. ``on_month(done, total,
    "YYYY-MM")`` hears of each month as it starts (the task's progress). ``shows`` is
    ``podcast_shows(the_lake, index)`` when the caller has it already.
    """
    settings = get_settings()
    window = settings.dedupe.match_window_seconds
    if shows is None:
        shows = podcast_shows(the_lake, index)
    digest = shows_digest(shows)
    by_month: dict[tuple[int, int], list[dt.date]] = defaultdict(list)
    for day in sorted(days):
        by_month[(day.year, day.month)].append(day)
    batch = AtomicBatch()
    try:
        kept = _stage_months(the_lake, by_month, index, on_month, shows, digest, window, batch)
    except BaseException:
        # The days written whole before the failure are kept, as when each was renamed in at
        # once; a commit that fails too (a full disk) leaves them as temporary files, removed.
        with contextlib.suppress(OSError):
            batch.commit()
        batch.discard()
        raise
    batch.commit()
    return kept


def _stage_months(
    the_lake: Lake,
    by_month: dict[tuple[int, int], list[dt.date]],
    index: InputIndex,
    on_month: Callable[[int, int, str], None] | None,
    shows: set[tuple[str, str]],
    digest: str,
    window: int,
    batch: AtomicBatch,
) -> int:
    """``stage_days``' months, their day files written into ``batch`` (committed each
    ``COMMIT_MONTHS`` months, so a killed import keeps most of what it wrote)."""
    kept = 0
    empty = schemas.empty(schemas.PLAYS)
    with ThreadPoolExecutor(max_workers=max(2, get_settings().duckdb.threads)) as pool:
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
            account_days = _days_with_source(plays, "export_account")
            for day in month_days:
                part = slices.get(day, empty)
                provenance: dict[str, object] = {
                    "inputs": inputs_fingerprint(the_lake, index.get(day, []))
                }
                if day in account_days:
                    provenance["podcast_shows"] = digest
                pending.append(
                    pool.submit(
                        _write_partition, the_lake.plays_partition(day), part, provenance, batch
                    )
                )
                kept += part.num_rows
            # Bound the queue (memory) and surface a failed write before going on.
            while len(pending) > 64:
                _finish(pending.pop(0))
            if number % COMMIT_MONTHS == COMMIT_MONTHS - 1:
                batch.commit()  # the day files written so far (later ones at the next)

        for future in pending:
            _finish(future)
    return kept


def stage_stale_days(
    the_lake: Lake,
    days: list[dt.date],
    index: InputIndex,
    on_month: Callable[[int, int, str], None] | None = None,
) -> int:
    """Stage every stale day found (``inputs.stale_days``) and remember staging is current.

    Temp files of runs killed mid-write are invisible to readers; the old ones are reaped first.
    """
    clean_temp_files(the_lake.staged)
    shows = podcast_shows(the_lake, index)  # read once: the staging and the memo both need it
    kept = stage_days(the_lake, days, index, on_month, shows)
    remember_staging_current(the_lake, shows_digest(shows))
    return kept


def _finish(future: Future[None]) -> None:
    """Wait for one partition write (raises its error)."""
    future.result()


def _write_partition(
    target: Path, part: pa.Table, provenance: dict, batch: AtomicBatch | None = None
) -> None:
    """Write one day's partition; a failure names the partition and what was kept."""
    try:
        write_parquet_atomic(target, part, provenance, compression="snappy", batch=batch)
    except OSError as exc:
        raise StagingWriteError(
            f"could not write {target}: {exc.strerror or exc}; the previous version of that "
            "partition is kept, rerun when the problem is fixed"
        ) from exc
