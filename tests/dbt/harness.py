"""Warehouse test helpers: point settings at a lake, run dbt as DbtBuild does, query."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest


@contextmanager
def lake_at(root: Path) -> Iterator[None]:
    """Point the settings (and so the pipeline's lake) at ``root`` for a module's fixtures."""
    import luigi.task_register

    from pipeline import settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MUSIC_TRACKER_ENV", "testing")
        mp.setenv("MUSIC_TRACKER__PATHS__DATA_DIR", str(root))
        settings.reload_settings()
        luigi.task_register.Register.clear_instance_cache()
        try:
            yield
        finally:
            mp.undo()
            settings.reload_settings()
            luigi.task_register.Register.clear_instance_cache()


def dbt(args: list[str], changed_days: list[str] | None = None) -> str:
    """Run a dbt command the way DbtBuild does (same helpers, env and vars); fail loudly.

    ``changed_days``: the play days the build reloads (DbtBuild's list); None reloads every day.
    """
    from pipeline.paths import lake
    from pipeline.warehouse.prepare import ensure_placeholders, write_listeners
    from pipeline.warehouse.run import run_dbt_for_days

    the_lake = lake()
    write_listeners(the_lake)
    ensure_placeholders(the_lake)
    proc = run_dbt_for_days(the_lake, args, changed_days)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-60:])
        pytest.fail(f"dbt {' '.join(args)} failed (exit {proc.returncode}):\n{tail}\n{proc.stderr}")
    return proc.stdout


def query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of one query against a DuckDB file opened read-only (never holding a lock)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()
