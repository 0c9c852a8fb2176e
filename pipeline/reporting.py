"""What Metabase reads: generations of mart Parquet files and a DuckDB file of views over them.

DuckDB allows one read-write process or many read-only ones per file, and Metabase keeps its
connection (and so its open ``reporting/reporting.duckdb``) for as long as it runs. So Metabase
never opens the warehouse, and the views file's text never has to change for a new build to
show: its views read Parquet, and which Parquet is decided by each query.

**One generation at a time.** A publish writes every mart into a new folder beside the marts
(``reporting/marts-luigi-tmp-…``): parts whose rows did not change since the last generation are
hard links to its files (a 30-minute cycle rewrites one year of fct_plays and the few small
marts that moved, not ~70 MB), the rest are exported. Only when the folder is complete is it
renamed, in one step, to ``reporting/marts/generation=<key>/``. A publish that fails halfway
(disk full, an exception, SIGKILL) leaves the generations that readers use untouched; its
folder is removed then or by the next publish.

**Every view of one query reads the same generation.** A view reads
``marts/generation=*/<mart>/*.parquet`` and keeps the rows of the newest generation that was
visible when the query's transaction started (DuckDB's ``now()``, one value for the whole
statement): a generation's name says from which instant (ms since the epoch, a little after the
rename) it is visible, so a folder can never appear between two views of one query. Keys count
down (``9999999999999 - visible_from_ms``) so the first file of the glob, whose schema DuckDB
reads when binding, is always the newest generation's, never one being deleted. The last
``KEEP_GENERATIONS`` generations are kept, so a query that started on the previous one still
finds its files.

Metabase's DuckDB driver bundles an older DuckDB (1.5.x in Metabase 0.59): the views file is
created with ``STORAGE_VERSION 'v1.5.0'`` so that version opens it. Every publish checks that the
views file opens (and holds every mart's view) and rewrites it when it does not.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.io.atomic import TMP_MARK, atomic_path, temp_name
from pipeline.io.duck import connect, file_stamp, sql_string, unreadable_reason
from pipeline.io.markers import latest_marker, write_marker
from pipeline.paths import Lake
from pipeline.warehouse.current import latest_build

if TYPE_CHECKING:
    import duckdb

logger = logging.getLogger(__name__)

#: Oldest DuckDB storage format the reporting file is written in (Metabase's driver reads it).
REPORTING_STORAGE_VERSION = "v1.5.0"
MART_SCHEMA = "marts"

#: Generations kept on disk: the current one and the one a query started just before it may use.
KEEP_GENERATIONS = 2
#: How long after its rename a new generation becomes visible (longer than a rename takes, so
#: no query can see it appear midway). A publish waits this out before it returns.
VISIBLE_AFTER_S = 0.3
#: Generation keys count down from this (13 digits: milliseconds until the year 2286).
_KEY_BASE = 9_999_999_999_999
_GENERATION = "generation"
_LEDGER = "published.json"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


#: Marts published as one Parquet file per year of this date column, so a 30-minute cycle
#: rewrites only the year that changed (fct_plays: ten years of plays are ~70 MB at a million).
SPLIT_BY_YEAR = {"fct_plays": "partition_date"}

#: Name of the single part of a mart that is not split (and of an empty split mart's part).
WHOLE = "all"


def _mart_parts(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, tuple[int, int]]:
    """Each part of a mart as (rows, checksum): what decides whether its file is rewritten.

    The checksum XORs a hash of every whole row: cheap (a million plays in ~0.2 s), and any
    changed, added or removed row changes it.
    """
    relation = f"{MART_SCHEMA}.{_quote(table)}"
    column = SPLIT_BY_YEAR.get(table)
    if column is None:
        found = con.execute(
            f"select '{WHOLE}', count(*), coalesce(bit_xor(hash(t)), 0) from {relation} t"
        ).fetchall()
    else:
        found = con.execute(
            f"select coalesce(cast(year({_quote(column)}) as varchar), 'none'), count(*), "
            f"bit_xor(hash(t)) from {relation} t group by 1"
        ).fetchall()
    parts = {str(part): (int(rows), int(digest)) for part, rows, digest in found}
    if column is not None and not parts:
        parts = {WHOLE: (0, 0)}
    return {part: value for part, value in parts.items() if value[0] or part == WHOLE}


def _part_query(table: str, part: str) -> str:
    relation = f"{MART_SCHEMA}.{_quote(table)}"
    column = SPLIT_BY_YEAR.get(table)
    if column is None or part == WHOLE:
        return f"select * from {relation}"
    if part == "none":
        return f"select * from {relation} where {_quote(column)} is null"
    return f"select * from {relation} where year({_quote(column)}) = {int(part)}"


# ---------- generations on disk


def generation_dir(the_lake: Lake, key: int) -> Path:
    """The folder of one published generation: ``<mart>/<part>.parquet`` and its ledger."""
    return the_lake.reporting_marts_dir / f"{_GENERATION}={key:013d}"


def generations(the_lake: Lake) -> list[Path]:
    """Every complete generation, newest first (only complete folders are ever renamed here)."""
    root = the_lake.reporting_marts_dir
    if not root.exists():
        return []
    found = [
        p
        for p in root.iterdir()
        if p.is_dir() and p.name.startswith(f"{_GENERATION}=") and (p / _LEDGER).exists()
    ]
    return sorted(found, key=lambda p: p.name)


def current_generation(the_lake: Lake) -> Path | None:
    """The newest published generation (what a query started now reads), if any."""
    found = generations(the_lake)
    return found[0] if found else None


def published_mart_dir(the_lake: Lake, table: str) -> Path:
    """The current generation's folder of ``table`` (read it as ``<folder>/*.parquet``)."""
    return the_lake.reporting_mart_dir(table)


def mart_glob(the_lake: Lake, table: str) -> str:
    """What a reader passes to ``read_parquet`` to read one published mart (all its parts)."""
    return str(published_mart_dir(the_lake, table).resolve() / "*.parquet")


def _read_ledger(folder: Path | None) -> dict:
    if folder is None:
        return {}
    try:
        ledger = json.loads((folder / _LEDGER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return ledger if isinstance(ledger, dict) else {}


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _link_or_copy(source: Path, target: Path) -> None:
    """Reuse an unchanged part: a hard link (no bytes written), else a copy (no links here)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _write_part(con: duckdb.DuckDBPyConnection, query: str, target: Path) -> None:
    """Export one part of a mart (the seam fault tests kill or fail in)."""
    con.execute(f"copy ({query}) to {sql_string(target)} (format parquet, compression zstd)")
    _fsync(target)


def _remove_tree(path: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.rmtree(path)


def _clean_up(the_lake: Lake, keep: int) -> None:
    """Drop generations past the newest ``keep``, folders of failed publishes, the old layout."""
    for old in generations(the_lake)[keep:]:
        _remove_tree(old)
    for stale in the_lake.reporting_dir.glob(f"{the_lake.reporting_marts_dir.name}{TMP_MARK}*"):
        _remove_tree(stale)  # one publish at a time (warehouse resource): none is live
    for entry in the_lake.reporting_marts_dir.iterdir():
        if entry.name.startswith(f"{_GENERATION}="):
            if not (entry / _LEDGER).exists():
                _remove_tree(entry)
        elif entry.is_dir():
            _remove_tree(entry)  # one folder per mart: the layout before generations
        else:
            entry.unlink(missing_ok=True)


def publish_marts(
    the_lake: Lake,
    keep: int = KEEP_GENERATIONS,
    on_mart: Callable[[int, int, str], None] | None = None,
) -> dict[str, int]:
    """Publish every table of the warehouse's marts schema as a new generation; rows per mart.

    ``on_mart(done, total, name)`` hears of each mart as it starts (the task's progress).

    Each mart is a folder of Parquet parts (one per year for ``SPLIT_BY_YEAR`` marts, else one
    file). A part whose rows are unchanged since the current generation (same count and
    checksum) is linked, not exported. Readers switch to the new generation in one step, and
    only once all of it is on disk (see the module docstring).
    """
    the_lake.reporting_marts_dir.mkdir(parents=True, exist_ok=True)
    previous = current_generation(the_lake)
    before = _read_ledger(previous).get("marts", {})
    building = temp_name(the_lake.reporting_marts_dir)
    new_ledger: dict[str, dict[str, list[int]]] = {}
    rows: dict[str, int] = {}
    columns: dict[str, list[tuple[str, str]]] = {}
    written = 0
    try:
        building.mkdir(parents=True)
        con = connect(the_lake.warehouse, read_only=True)
        try:
            con.execute("set preserve_insertion_order = false")
            tables = [
                r[0]
                for r in con.execute(
                    "select table_name from information_schema.tables "
                    "where table_schema = ? and table_type = 'BASE TABLE' order by table_name",
                    [MART_SCHEMA],
                ).fetchall()
            ]
            for index, table in enumerate(tables):
                if on_mart is not None:
                    on_mart(index, len(tables), table)
                folder = building / table
                folder.mkdir()
                parts = _mart_parts(con, table)
                for part, (count, digest) in parts.items():
                    target = folder / f"{part}.parquet"
                    reused = previous / table / target.name if previous else None
                    unchanged = before.get(table, {}).get(part) == [count, digest]
                    if reused is not None and unchanged and reused.exists():
                        _link_or_copy(reused, target)
                        continue
                    _write_part(con, _part_query(table, part), target)
                    written += 1
                new_ledger[table] = {p: [c, d] for p, (c, d) in parts.items()}
                rows[table] = sum(count for count, _ in parts.values())
                columns[table] = [
                    (str(c[0]), str(c[1]))
                    for c in con.execute(
                        "select column_name, data_type from information_schema.columns "
                        "where table_schema = ? and table_name = ? order by ordinal_position",
                        [MART_SCHEMA, table],
                    ).fetchall()
                ]
        finally:
            con.close()
        # The first generation is visible at once (there is nothing older to mix it with).
        now_ms = time.time_ns() // 1_000_000
        visible_from = now_ms + int(VISIBLE_AFTER_S * 1000) if previous else now_ms - 1
        last = _read_ledger(previous).get("visible_from_ms")
        if isinstance(last, int) and visible_from <= last:
            # The clock went back: keys stay in publish order, and readers fall back to the
            # oldest kept generation until the clock passes this one's start.
            logger.warning(
                "the clock (%d ms) is behind the last publish (%d ms): the new generation "
                "is visible once the clock passes it",
                now_ms,
                last,
            )
            visible_from = last + 1
        ledger = {"visible_from_ms": visible_from, "marts": new_ledger, "columns": columns}
        (building / _LEDGER).write_text(json.dumps(ledger, sort_keys=True), encoding="utf-8")
        _fsync(building / _LEDGER)
        final = generation_dir(the_lake, _KEY_BASE - visible_from)
        os.rename(building, final)
        _fsync(the_lake.reporting_marts_dir)
        late_ms = time.time_ns() // 1_000_000 - visible_from
        if previous and late_ms >= 0:
            logger.warning(
                "generation %s was renamed %d ms after it became visible: a query started "
                "in between may have read two generations",
                final.name,
                late_ms,
            )
    finally:
        if building.exists():
            _remove_tree(building)
    write_views(the_lake, columns)
    _clean_up(the_lake, keep)
    wait_s = min((visible_from - time.time_ns() // 1_000_000) / 1000, VISIBLE_AFTER_S)
    if wait_s > 0:
        time.sleep(wait_s)  # a caller reading right after this publish reads this generation
    logger.info("published %d marts as %s (%d files rewritten)", len(rows), final.name, written)
    return rows


# ---------- the views file Metabase opens


def _pick_generation_sql(root: Path) -> str:
    """The key of the newest generation visible at this transaction's start (see docstring).

    None visible (the clock went back past every kept generation's start): the oldest kept one,
    which a new generation (always the newest) cannot change.
    """
    ledgers = sql_string(root / f"{_GENERATION}=*" / _LEDGER)
    key = f"cast(regexp_extract(file, '{_GENERATION}=([0-9]+)', 1) as bigint)"
    visible = f"{key} >= {_KEY_BASE} - epoch_ms(now())"
    return f"select coalesce(min({key}) filter (where {visible}), max({key})) from glob({ledgers})"


def view_sql(root: Path, table: str) -> str:
    """One mart's view: its rows in the generation the query's start sees."""
    parts = sql_string(root / f"{_GENERATION}=*" / table / "*.parquet")
    return (
        f"select * exclude ({_GENERATION}) from read_parquet({parts}, hive_partitioning = true, "
        f"hive_types = {{'{_GENERATION}': 'BIGINT'}}) "
        f"where {_GENERATION} = ({_pick_generation_sql(root)})"
    )


def _views_in(path: Path) -> set[str] | None:
    """The views a reporting file holds (schema.name), or None when it does not open."""
    import duckdb

    if unreadable_reason(path) is not None:
        return None
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None  # busy in a way unreadable_reason forgives: not ours to judge here
    try:
        return {
            f"{schema}.{name}"
            for schema, name in con.execute(
                "select schema_name, view_name from duckdb_views() where not internal"
            ).fetchall()
        }
    finally:
        con.close()


def write_views(the_lake: Lake, columns: dict[str, list[tuple[str, str]]]) -> bool:
    """(Re)create the reporting views file when it is missing, unreadable, or the marts'
    shape changed; True if rewritten."""
    import duckdb

    target = the_lake.reporting_db
    root = the_lake.reporting_marts_dir.resolve()
    signature = json.dumps(
        {"columns": columns, "root": str(root), "layout": "generations-v2"}, sort_keys=True
    )
    stamp = target.with_suffix(".views.json")
    wanted = {f"{schema}.{t}" for t in columns for schema in ("main", MART_SCHEMA)}
    if target.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == signature:
        present = _views_in(target)
        if present is not None and wanted <= present:
            return False
        logger.warning("reporting views file %s is unreadable or incomplete: rewriting", target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(target)
    try:
        con = duckdb.connect()
        try:
            con.execute(
                f"attach {sql_string(tmp)} as reporting "
                f"(storage_version {sql_string(REPORTING_STORAGE_VERSION)})"
            )
            con.execute(f"create schema if not exists reporting.{MART_SCHEMA}")
            for table in sorted(columns):
                for schema in ("main", MART_SCHEMA):
                    con.execute(
                        f"create or replace view reporting.{schema}.{_quote(table)} as "
                        + view_sql(root, table)
                    )
            con.execute("detach reporting")
        finally:
            con.close()
        _fsync(tmp)
        os.replace(tmp, target)
        Path(f"{target}.wal").unlink(missing_ok=True)  # a WAL of the replaced file is not ours
    finally:
        if tmp.exists():
            tmp.unlink()
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    with atomic_path(stamp) as stamp_tmp:
        stamp_tmp.write_text(signature, encoding="utf-8")
    logger.info("reporting views written: %s (%d marts)", target, len(columns))
    return True


# --- the publish marker ------------------------------------------------------------------------

#: The name of a publish's marker under ``staged/published/date=D/``.
PUBLISH_MARKER = "manifest.json"


def is_published(the_lake: Lake) -> bool:
    """Whether the last publish (by marker sequence) was of the last build, and Metabase can
    open the views file (when it cannot, publishing again rewrites it)."""
    built = latest_build(the_lake)
    published = latest_marker(the_lake.staged / "published", PUBLISH_MARKER)
    if built is None or published is None:
        return False
    if unreadable_reason(the_lake.reporting_db, published[1].get("reporting_stamp")) is not None:
        return False
    return published[1].get("build_id") == built[1].get("build_id")


def publish(
    the_lake: Lake, day: dt.date, on_mart: Callable[[int, int, str], None] | None = None
) -> dict[str, int]:
    """Publish the last build's marts (none while there is no warehouse yet) and write the
    publish marker for ``day``, naming the build it published; rows per mart."""
    built = latest_build(the_lake)
    if built is None:
        raise RuntimeError(f"nothing to publish: no build marker under {the_lake.dbt_runs_dir}")
    marts = publish_marts(the_lake, on_mart=on_mart) if the_lake.warehouse.exists() else {}
    write_marker(
        the_lake.publish_marker(day),
        {
            "marts": marts,
            "build_id": built[1].get("build_id"),
            "reporting_db": str(the_lake.reporting_db),
            # The views file as this publish left it (checked: it opens): while it stays so,
            # checks need not open it again.
            "reporting_stamp": file_stamp(the_lake.reporting_db),
        },
    )
    return marts
