"""The reporting layer Metabase reads: mart Parquet files plus a tiny DuckDB file of views.

DuckDB allows one read-write process or many read-only ones per file, and Metabase keeps its
connection open. So Metabase never opens the warehouse: it opens ``reporting/reporting.duckdb``
read-only, whose views read ``reporting/marts/<mart>.parquet`` by absolute path. A publish
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
from pathlib import Path

import duckdb

from pipeline.io.atomic import atomic_path, temp_name
from pipeline.paths import Lake
from pipeline.settings import get_settings

logger = logging.getLogger(__name__)

#: Oldest DuckDB storage format the reporting file is written in (Metabase's driver reads it).
REPORTING_STORAGE_VERSION = "v1.5.0"
MART_SCHEMA = "marts"


def connect(path: Path | str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection capped by the configured memory limit and threads."""
    settings = get_settings()
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute(f"set memory_limit = '{settings.duckdb.memory_limit}'")
    con.execute(f"set threads = {int(settings.duckdb.threads)}")
    return con


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def publish_marts(the_lake: Lake) -> dict[str, int]:
    """Export every table of the warehouse's marts schema; return rows per mart."""
    out_dir = the_lake.reporting_marts_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: dict[str, int] = {}
    columns: dict[str, list[tuple[str, str]]] = {}
    con = connect(the_lake.warehouse, read_only=True)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = ? and table_type = 'BASE TABLE' order by table_name",
                [MART_SCHEMA],
            ).fetchall()
        ]
        for table in tables:
            target = the_lake.reporting_mart(table)
            with atomic_path(target) as tmp:
                con.execute(
                    f"copy {MART_SCHEMA}.{_quote(table)} to '{tmp}' "
                    "(format parquet, compression zstd)"
                )
            count = con.execute(f"select count(*) from {MART_SCHEMA}.{_quote(table)}").fetchone()
            rows[table] = int(count[0]) if count else 0
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
    for stale in out_dir.glob("*.parquet"):
        if stale.stem not in rows:
            stale.unlink()
    write_views(the_lake, columns)
    return rows


def write_views(the_lake: Lake, columns: dict[str, list[tuple[str, str]]]) -> bool:
    """(Re)create the reporting views file when the marts' shape changed; True if rewritten."""
    target = the_lake.reporting_db
    signature = json.dumps(
        {"columns": columns, "root": str(the_lake.reporting_marts_dir.resolve())}, sort_keys=True
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
                parquet = the_lake.reporting_mart(table).resolve()
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
