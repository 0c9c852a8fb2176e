"""DuckDB connections capped by the configured memory limit and threads; memory handed back.

A bare ``duckdb.connect()`` may use 80% of the machine's RAM: on a 2 GB NAS running Metabase
beside the pipeline that is an out-of-memory kill waiting to happen, so every connection the
pipeline opens for real work comes from here.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.settings import get_settings


def connect(path: Path | str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with ``duckdb.task_memory_limit`` and ``duckdb.threads`` applied."""
    settings = get_settings()
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute(f"set memory_limit = '{settings.duckdb.task_memory_limit}'")
    con.execute(f"set threads = {int(settings.duckdb.threads)}")
    return con


def release_memory() -> None:
    """Hand memory this process no longer uses back to the OS.

    The pipeline runs its tasks one after another in one process, and dbt beside it: Arrow's
    pool and glibc's heap keep freed pages (a staged month of plays, a parsed export file)
    unless asked, so every task's peak would stack on the last one's. Called after each task.
    """
    import ctypes
    import gc

    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        pass
