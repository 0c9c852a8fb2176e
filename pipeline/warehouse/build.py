"""One warehouse build: prepare dbt's inputs, run ``dbt build`` on what changed, write the marker.

The marker (``staged/dbt_runs/date=D/run_results.json``, numbered by ``io.markers.write_marker``)
records the counts, the staged, plays and project fingerprints the build saw, and a ``build_id``
the publish copies; ``current.build_is_current`` reads it back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.io.atomic import write_json_atomic
from pipeline.io.duck import file_stamp
from pipeline.io.markers import fingerprint, write_marker
from pipeline.paths import Lake
from pipeline.settings import get_settings
from pipeline.warehouse.changes import plays_changed_dates
from pipeline.warehouse.current import (
    current_project_fingerprint,
    latest_build,
    staged_fingerprint,
)
from pipeline.warehouse.dbt_process import Progress
from pipeline.warehouse.failures import failing_checks
from pipeline.warehouse.prepare import prepare_inputs
from pipeline.warehouse.run import dbt_target_dir, run_dbt_for_days
from pipeline.warehouse.selection import build_selection

#: The most changed days a build may have to run on ``dbt.cycle_threads`` (a cycle brings one
#: or two); more, as in an import of a month or a year, run on one thread, inside the memory
#: a first build's single thread was measured in.
CYCLE_MAX_DAYS = 7


def build_threads(changed: list[str] | None, whole: bool) -> int:
    """dbt's threads for a build: ``dbt.cycle_threads`` for a few changed days, else one."""
    if whole or changed is None or len(changed) > CYCLE_MAX_DAYS:
        return 1
    return get_settings().dbt.cycle_threads


def summarise_run_results(path: Path) -> dict[str, Any]:
    """Counts by status from dbt's run_results.json (models, tests, failures), its elapsed
    time and its results, from one reading of the file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    results = data.get("results", [])
    counts: dict[str, int] = {}
    for result in results:
        status = str(result.get("status"))
        counts[status] = counts.get(status, 0) + 1
    return {"counts": counts, "elapsed_time": data.get("elapsed_time"), "results": results}


def record_failed_build(
    the_lake: Lake, day: dt.date, run_results: Path, code: int
) -> list[dict[str, Any]]:
    """Keep a failed build's results in the lake, where `music-tracker status` looks; return
    them (what ``failures.failing_checks`` reads).

    dbt's own ``target/`` belongs to the project, not to a lake, so it cannot say which lake's
    build failed; the success marker is not written for a failed build.
    """
    results: list = []
    if run_results.exists():
        try:
            results = json.loads(run_results.read_text(encoding="utf-8")).get("results", [])
        except ValueError:
            results = []
    write_json_atomic(
        the_lake.failed_build_record,
        {"status": "failed", "date": day.isoformat(), "exit_code": code, "results": results},
    )
    return results


def build_warehouse(
    the_lake: Lake,
    day: dt.date,
    full_refresh: bool = False,
    full_tests: bool = False,
    on_progress: Progress | None = None,
    on_status: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Build the warehouse for ``day`` and write its marker; return the marker.

    A damaged warehouse file is set aside first (then every day is built again). With no plays
    staged yet dbt is not run and the marker says "skipped". Otherwise dbt reloads the changed
    days only and selects what they reach, unless ``full_refresh`` or ``full_tests`` (the whole
    suite: every test by name) or a changed project (every model, plain tests batched) make it
    build everything. A failed build is recorded (``record_failed_build``) and raises, naming
    the plain tests that fail inside a failed batch (``failures.failing_checks``); no marker
    is written for it.
    """
    prepare_inputs(the_lake)
    fp = staged_fingerprint(the_lake)
    plays_fp = fingerprint(the_lake.plays_dir)
    project_fp = current_project_fingerprint(the_lake)
    if not any(the_lake.plays_dir.glob("date=*/*.parquet")):
        marker: dict[str, Any] = {"status": "skipped", "reason": "no plays staged yet"}
    else:
        changed = plays_changed_dates(the_lake, plays_fp, full_refresh)
        previous = latest_build(the_lake)
        project_changed = previous is None or (previous[1].get("project_fingerprint") != project_fp)
        suite = full_refresh or full_tests  # every test by name, the unit tests too
        whole = suite or project_changed
        if on_status is not None:
            on_status(
                "dbt build running ("
                + ("every day" if changed is None else f"{len(changed)} changed days")
                + (", whole suite" if suite else "")
                + ")"
            )
        threads = build_threads(changed, whole)
        args = ["build", "--threads", str(threads)] + (["--full-refresh"] if full_refresh else [])
        proc = run_dbt_for_days(
            the_lake,
            args,
            changed,
            on_progress,
            full_window=project_changed,
            full_tests=full_tests,
            select=lambda lookups: build_selection(changed, lookups, whole, suite),
        )
        run_results = dbt_target_dir() / "run_results.json"
        if proc.returncode != 0:
            results = record_failed_build(the_lake, day, run_results, proc.returncode)
            failing = failing_checks(the_lake.warehouse, results)
            raise RuntimeError(
                f"dbt build failed (exit {proc.returncode}): {proc.summary(1)}; "
                + (f"failing checks: {', '.join(failing)}; " if failing else "")
                + f"see {run_results}"
            )
        marker = {"status": "success", "threads": threads, **summarise_run_results(run_results)}
    marker["staged_fingerprint"] = fp
    marker["full_tests"] = full_tests or full_refresh
    if marker["status"] == "success":
        marker["project_fingerprint"] = project_fp
    marker["plays_fingerprint"] = plays_fp
    marker["build_id"] = hashlib.sha256(
        json.dumps([day.isoformat(), fp], sort_keys=True).encode()
    ).hexdigest()[:16]
    marker["date"] = day.isoformat()
    # The warehouse as dbt left it: while it stays so, checks need not open it again.
    marker["warehouse_stamp"] = file_stamp(the_lake.warehouse)
    marker["sequence"] = write_marker(the_lake.dbt_run_marker(day), marker)
    return marker
