"""DuckDB connections capped by the configured memory limit and threads.

A bare ``duckdb.connect()`` may use 80% of the machine's RAM: on a 2 GB NAS running Metabase
beside the pipeline that is an out-of-memory kill waiting to happen, so every connection the
pipeline opens for real work comes from here.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.settings import get_settings


def connect(path: Path | str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with ``duckdb.memory_limit`` and ``duckdb.threads`` applied."""
    settings = get_settings()
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute(f"set memory_limit = '{settings.duckdb.memory_limit}'")
    con.execute(f"set threads = {int(settings.duckdb.threads)}")
    return con
