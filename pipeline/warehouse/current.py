"""Whether the warehouse is current: what a build read, the last build's marker, the build day.

A build's marker (``staged/dbt_runs/date=D/run_results.json``) records the staged fingerprint
it saw; the warehouse is current for ``day`` when the last marker written (by sequence number,
``io.markers.latest_marker``) saw every staged file of ``day`` and before as they are now.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipeline.io.duck import unreadable_reason
from pipeline.io.markers import fingerprint, latest_marker, up_to
from pipeline.paths import Lake

#: The name of a build's marker under ``dbt_runs/date=D/``.
BUILD_MARKER = "run_results.json"
#: Staged datasets that are outputs of the build, not inputs to it.
NOT_INPUTS = ("dbt_runs", "published")


def build_day(day: dt.date) -> dt.date:
    """The day a run for ``day`` builds for: today (UTC), or ``day`` if it is later."""
    return max(day, dt.datetime.now(dt.UTC).date())


def staged_fingerprint(the_lake: Lake) -> dict[str, str]:
    """What a build reads: every staged Parquet file (plays, lookups, quarantine, reference)."""
    return fingerprint(the_lake.staged, exclude=NOT_INPUTS)


def latest_build(the_lake: Lake) -> tuple[dt.date, dict[str, Any]] | None:
    """The last build marker written (whatever day it was built for), with its day."""
    return latest_marker(the_lake.dbt_runs_dir, BUILD_MARKER)


def build_is_current(the_lake: Lake, day: dt.date, full_tests: bool = False) -> bool:
    """Whether the last build saw every staged file of ``day`` and before as it is now.

    ``full_tests``: and was a whole-suite build for ``day`` or later (``cron daily`` asks).
    A warehouse file that is gone is never current, whatever the markers say: a build over a
    deleted warehouse must rebuild it, not report the old marker's counts.
    """
    if not the_lake.warehouse.exists():
        return False
    latest = latest_build(the_lake)
    if latest is None or not isinstance(latest[1].get("staged_fingerprint"), dict):
        return False
    if unreadable_reason(the_lake.warehouse, latest[1].get("warehouse_stamp")) is not None:
        return False  # damaged: the build sets it aside and builds it again
    if full_tests and not (latest[1].get("full_tests") and latest[0] >= day):
        return False
    built = latest[1]["staged_fingerprint"]
    return up_to(built, day) == up_to(staged_fingerprint(the_lake), day)
