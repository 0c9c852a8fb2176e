"""Whether the warehouse is current: what a build read, the last build's marker, the build day,
and the dbt project it was built from.

A build's marker (``staged/dbt_runs/date=D/run_results.json``) records the staged fingerprint
it saw; the warehouse is current for ``day`` when the last marker written (by sequence number,
``io.markers.latest_marker``) saw every staged file of ``day`` and before as they are now,
and was built from the dbt project as it is now.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from pipeline.io.duck import unreadable_reason
from pipeline.io.markers import fingerprint, latest_marker, up_to
from pipeline.io.pass_cache import memo
from pipeline.paths import Lake
from pipeline.settings import get_settings

#: The name of a build's marker under ``dbt_runs/date=D/``.
BUILD_MARKER = "run_results.json"
#: Staged datasets that are outputs of the build, not inputs to it.
NOT_INPUTS = ("dbt_runs", "published")
#: What dbt builds from besides the staged data: a change here (an upgrade, an edited model)
#: means every period is recomputed and every model rebuilt.
PROJECT_PARTS = ("models", "macros", "seeds", "tests", "dbt_project.yml", "profiles.yml")


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
    """Whether the last build saw every staged file of ``day`` and before as it is now, from
    the project as it is now.

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
    if up_to(built, day) != up_to(staged_fingerprint(the_lake), day):
        return False
    # An upgrade (or an edited model) changes what the warehouse should hold although no input
    # did: built at the next cycle, `build` or `rebuild`, not when new plays come. A marker
    # without one (nothing was staged yet) asks nothing.
    project = latest[1].get("project_fingerprint")
    return project is None or project == current_project_fingerprint(the_lake)


def dbt_vars() -> dict:
    """The vars every dbt run gets from the settings."""
    return {"session_idle_gap_minutes": get_settings().sessions.idle_gap_minutes}


def current_project_fingerprint(the_lake: Lake) -> str:
    """``project_fingerprint`` of the project, the vars and the lake's listeners file, as a
    build records it in its marker (once per scheduling pass)."""
    project = get_settings().paths.dbt_project_dir
    listeners = the_lake.listeners_file
    return memo(
        ("project fingerprint", str(project), str(listeners)),
        lambda: project_fingerprint(project, dbt_vars(), (listeners,)),
    )


def project_fingerprint(project: Path, vars_: dict, also: tuple[Path, ...] = ()) -> str:
    """A hash of the dbt project's own files, the vars a build passes and ``also`` (the
    listeners file: a new time zone moves every local day)."""
    digest = hashlib.sha256(json.dumps(vars_, sort_keys=True).encode())
    for path in also:
        digest.update(path.read_bytes() if path.exists() else b"")
    for part in PROJECT_PARTS:
        root = project / part
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            digest.update(str(path.relative_to(project)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
