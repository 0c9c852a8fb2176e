"""The reporting layer Metabase reads: mart Parquet files plus a tiny DuckDB file of views.

DuckDB allows one read-write process or many read-only ones per file, and Metabase keeps its
connection open. So Metabase never opens the warehouse: it opens ``reporting/reporting.duckdb``
read-only, whose views read ``reporting/marts/<mart>/*.parquet`` by absolute path. A publish
replaces each Parquet file atomically (``os.replace``), so a connected reader sees the new data
on its next query and the build never waits for a lock. The views file is only rewritten (to a
temp name, then renamed) when the set of marts or their columns change.

Metabase's DuckDB driver bundles an older DuckDB (1.5.x in Metabase 0.59): the views file is
created with ``STORAGE_VERSION 'v1.5.0'`` so that version opens it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb

from pipeline.io.atomic import atomic_path, temp_name, write_json_atomic
from pipeline.io.duck import connect
from pipeline.paths import Lake

logger = logging.getLogger(__name__)

#: Oldest DuckDB storage format the reporting file is written in (Metabase's driver reads it).
REPORTING_STORAGE_VERSION = "v1.5.0"
MART_SCHEMA = "marts"


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


def mart_glob(the_lake: Lake, table: str) -> str:
    """What a reader passes to ``read_parquet`` to read one published mart (all its parts)."""
    return str(the_lake.reporting_mart_dir(table).resolve() / "*.parquet")


def publish_marts(
    the_lake: Lake, on_mart: Callable[[int, int, str], None] | None = None
) -> dict[str, int]:
    """Export every table of the warehouse's marts schema; return rows per mart.

    ``on_mart(done, total, name)`` hears of each mart as it starts (the task's progress).

    Each mart is a folder of Parquet parts (one per year for ``SPLIT_BY_YEAR`` marts, else one
    file). A part whose rows are unchanged since the last publish (same checksum) is left as it
    is, so a cycle that added fifty plays rewrites one year of fct_plays and the few small marts
    that moved, not ~70 MB; every part that is rewritten is replaced atomically.
    """
    out_dir = the_lake.reporting_marts_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    ledger_path = the_lake.reporting_ledger
    try:
        ledger = json.loads(ledger_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        ledger = {}
    new_ledger: dict[str, dict[str, list[int]]] = {}
    rows: dict[str, int] = {}
    columns: dict[str, list[tuple[str, str]]] = {}
    written = 0
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
            folder = the_lake.reporting_mart_dir(table)
            folder.mkdir(parents=True, exist_ok=True)
            parts = _mart_parts(con, table)
            before = ledger.get(table, {})
            for part, (count, digest) in parts.items():
                target = folder / f"{part}.parquet"
                if target.exists() and before.get(part) == [count, digest]:
                    continue
                with atomic_path(target) as tmp:
                    con.execute(
                        f"copy ({_part_query(table, part)}) to '{tmp}' "
                        "(format parquet, compression zstd)"
                    )
                written += 1
            for stale in folder.glob("*.parquet"):
                if stale.stem not in parts:
                    stale.unlink()
            new_ledger[table] = {part: [count, digest] for part, (count, digest) in parts.items()}
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
    for stale in out_dir.iterdir():
        # Marts gone from the warehouse, and files of the older one-file-per-mart layout.
        if stale.is_dir() and stale.name not in rows:
            shutil.rmtree(stale)
        elif stale.suffix == ".parquet":
            stale.unlink()
    write_json_atomic(ledger_path, new_ledger)
    write_views(the_lake, columns)
    logger.info("published %d marts (%d files rewritten)", len(rows), written)
    return rows


def write_views(the_lake: Lake, columns: dict[str, list[tuple[str, str]]]) -> bool:
    """(Re)create the reporting views file when the marts' shape changed; True if rewritten."""
    target = the_lake.reporting_db
    signature = json.dumps(
        {
            "columns": columns,
            "root": str(the_lake.reporting_marts_dir.resolve()),
            "layout": "folder-per-mart",
        },
        sort_keys=True,
    )
    stamp = target.with_suffix(".views.json")
    if target.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == signature:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(target)
    try:
        con = duckdb.connect()
        try:
            con.execute(
                f"attach '{tmp}' as reporting (storage_version '{REPORTING_STORAGE_VERSION}')"
            )
            con.execute(f"create schema if not exists reporting.{MART_SCHEMA}")
            for table in sorted(columns):
                parquet = mart_glob(the_lake, table).replace("'", "''")
                for schema in ("main", MART_SCHEMA):
                    con.execute(
                        f"create or replace view reporting.{schema}.{_quote(table)} as "
                        f"select * from read_parquet('{parquet}')"
                    )
            con.execute("detach reporting")
        finally:
            con.close()
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
        wal = Path(f"{tmp}.wal")
        if wal.exists():
            wal.unlink()
    with atomic_path(stamp) as stamp_tmp:
        stamp_tmp.write_text(signature, encoding="utf-8")
    logger.info("reporting views written: %s (%d marts)", target, len(columns))
    return True
