"""Name the plain tests that fail inside a failed ``column_checks`` batch.

dbt reports a failed batch as one test ("column_checks_fct_plays_...: Got 2 results"). Its
query returns one row per failing plain test (``failing_test``, ``failing_rows``), so once dbt
has exited (it holds the warehouse's lock while it runs) the batch's compiled SQL, kept in
the results of ``run_results.json``, is run again, read-only, to say which tests fail and on
how many rows: what a first import with bad data, or a cycle, would otherwise only show under
the batch's name.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pipeline.io.duck import connect
from pipeline.warehouse.selection import BATCHED_TESTS

logger = logging.getLogger(__name__)


def failed_batches(results: list[dict[str, Any]]) -> list[str]:
    """The compiled SQL of every batch that failed, from the results of dbt's
    ``run_results.json``."""
    return [
        r["compiled_code"]
        for r in results
        if r.get("status") == "fail"
        and str(r.get("unique_id", "")).startswith(f"test.music_tracker.{BATCHED_TESTS}_")
        and r.get("compiled_code")
    ]


def failing_checks(warehouse: Path, results: list[dict[str, Any]]) -> list[str]:
    """``["not_null_dim_genre_genre_sk (1 row)", ...]`` for the failed batches among a run's
    ``results`` (the failed build's record keeps them).

    Best effort: a warehouse that cannot be opened or a query that fails (the build failed
    before the models it reads were rebuilt) leaves that batch unnamed, with dbt's own message.
    """
    batches = failed_batches(results)
    if not batches or not warehouse.exists():
        return []
    import duckdb

    named: list[str] = []
    try:
        con = connect(warehouse, read_only=True)
    except duckdb.Error as exc:  # locked or damaged: dbt's message stands
        logger.debug("failing checks not named: %s", exc)
        return []
    try:
        for sql in batches:
            try:
                rows = con.execute(sql).fetchall()
            except duckdb.Error as exc:
                logger.debug("a failed batch could not be run again: %s", exc)
                continue
            for test, count in sorted(rows, key=lambda row: str(row[0])):
                named.append(f"{test} ({count} row{'' if count == 1 else 's'})")
    finally:
        con.close()
    return named
