"""What dbt reads besides the staged plays, made ready before a build.

The listeners file, zero-row placeholders, origin keys on old MusicBrainz partitions, and a
readable warehouse file. Each step finds there is nothing to do without Arrow or DuckDB when
its files are as it last left them (``io.stamped``; the warehouse's stamp in the last build
marker): the import's child runs them before it exits (``prepare_inputs``), so the command's
own process, which runs dbt next, loads neither library beside dbt.
"""

from __future__ import annotations

import datetime as dt
import logging

from pipeline.io.duck import file_stamp, set_aside_if_unreadable
from pipeline.io.keep import set_aside
from pipeline.io.markers import fingerprint
from pipeline.io.parquet import parquet_unreadable_reason
from pipeline.io.stamped import held_stamp, is_stamped, set_stamp
from pipeline.paths import DBT_DATED_DATASETS, Lake
from pipeline.settings import get_settings
from pipeline.warehouse.current import latest_build

logger = logging.getLogger(__name__)

#: Day of the zero-row placeholder partitions (never a real listening day).
PLACEHOLDER_DATE = dt.date(1970, 1, 1)


def prepare_inputs(the_lake: Lake) -> None:
    """Make every input dbt reads ready. A damaged warehouse file is set aside first (then
    every day is built again); one exactly as the last build left it is not opened."""
    latest = latest_build(the_lake)
    written = latest[1].get("warehouse_stamp") if latest is not None else None
    set_aside_if_unreadable(the_lake.warehouse, written)
    set_aside_unreadable_lookups(the_lake)
    write_listeners(the_lake)
    upgrade_origin_keys_once(the_lake)
    ensure_placeholders(the_lake)


def set_aside_unreadable_lookups(the_lake: Lake) -> list[str]:
    """Move lookup partition files that are not readable Parquet out of dbt's way; their names.

    The enrichment writes them atomically, so only a damaged disk or a hand edit leaves one so;
    dbt (and every lookup read) would then fail on it at every build. Set aside as
    ``<file>.unreadable``, its answers are no longer in the lake: the enrichment's next run
    finds its state ahead of the lake and asks for them again (``runs.reconcile``). Only the
    partitions changed since the last check are opened (their footers: ~1 ms a file).
    """
    root = the_lake.staged / "lookups"
    stamp_file = the_lake.state / "lookups_checked.json"
    now = fingerprint(root)
    before = held_stamp(stamp_file)
    if is_stamped(stamp_file, now, held=before):
        return []
    checked = before if isinstance(before, dict) else {}
    moved: list[str] = []
    for partition, digest in now.items():
        if checked.get(partition) == digest:
            continue
        for path in sorted(root.glob(f"*/*/{partition}/*.parquet") if partition else []):
            reason = parquet_unreadable_reason(path)
            if reason is None:
                continue
            aside = set_aside(path)
            moved.append(str(path))
            logger.warning(
                "lookup partition %s is not readable Parquet (%s): moved to %s; the next "
                "enrichment run asks for its answers again",
                path,
                reason,
                aside.name,
            )
    set_stamp(stamp_file, fingerprint(root) if moved else now)
    return moved


def write_listeners(the_lake: Lake) -> None:
    """Write the configured listeners for dbt, only when they changed (keeps fingerprints)."""
    rows = [
        {"account": a.name, "display_name": a.display_name or a.name, "timezone": a.timezone}
        for a in get_settings().accounts
    ]
    target = the_lake.listeners_file
    stamp_file = the_lake.state / "listeners_written.json"
    if is_stamped(stamp_file, [rows, file_stamp(target)]):
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline import schemas
    from pipeline.io.parquet import write_parquet_atomic

    table = pa.Table.from_pylist(rows, schema=schemas.LISTENERS)
    if not (target.exists() and pq.read_table(target).equals(table)):
        write_parquet_atomic(target, table)
    set_stamp(stamp_file, [rows, file_stamp(target)])


def upgrade_origin_keys_once(the_lake: Lake) -> None:
    """``enrich.runs.upgrade_origin_keys``, skipped while the MusicBrainz partitions are as
    its last run left them (it reads every partition's schema with Arrow)."""
    from pipeline.enrich.runs import MB_ARTISTS, upgrade_origin_keys

    root = the_lake.dated_dir(MB_ARTISTS)
    stamp_file = the_lake.state / "origin_keys_upgraded.json"
    if is_stamped(stamp_file, fingerprint(root)):
        return
    upgrade_origin_keys(the_lake)
    set_stamp(stamp_file, fingerprint(root))


def ensure_placeholders(the_lake: Lake) -> None:
    """Give every dataset dbt reads at least a zero-row file, so sources resolve on day one."""
    placeholder = the_lake.staged / "quarantine" / "source=none" / "empty.parquet"
    missing = [
        d for d in DBT_DATED_DATASETS if not any(the_lake.dated_dir(d).glob("date=*/*.parquet"))
    ]
    if placeholder.exists() and not missing:
        return
    from pipeline import schemas
    from pipeline.io.parquet import write_parquet_atomic

    if not placeholder.exists():
        write_parquet_atomic(placeholder, schemas.empty(schemas.QUARANTINE))
    for dataset in missing:
        write_parquet_atomic(
            the_lake.dated_partition(dataset, PLACEHOLDER_DATE, "empty"),
            schemas.empty(schemas.DATED_DATASETS[dataset]),
        )


def hand_over(the_lake: Lake) -> None:
    """What the import's child does last, so its parent runs dbt with neither Arrow nor DuckDB
    loaded: the staging memo made current again (the day's own staging ran after the bulk
    staging remembered it), the build's inputs ready, and the lookup content kept.

    Measured at 1M plays: the parent then holds ~40 MB beside dbt instead of 113-129 MB.
    """
    from pipeline.staging.memo import all_current
    from pipeline.warehouse.changes import keep_lookup_content

    all_current(the_lake)
    prepare_inputs(the_lake)
    keep_lookup_content(the_lake)
