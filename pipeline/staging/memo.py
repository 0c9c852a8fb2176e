"""A cache of "every partition is current": stat-only fingerprints of staging's files.

Checking every partition's provenance reads thousands of Parquet footers plus every podcast
row (measured: ~2.5 s per scheduling pass at 1M plays, most of a no-op cycle); a walk with
``stat`` only is cheap. The memo is written when staging was found (or made) all current, and
holds while nothing staging reads or writes changed.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from pipeline.io.atomic import write_json_atomic
from pipeline.io.markers import fingerprint, index
from pipeline.paths import Lake
from pipeline.staging.inputs import current_days, stale_days


def staging_memo_file(the_lake: Lake) -> Path:
    """Where the fingerprints of a fully current staging are kept."""
    return the_lake.state / "staging_current.json"


def staging_fingerprints(the_lake: Lake) -> dict[str, dict[str, str]]:
    """(path, size, mtime) fingerprints of staging's inputs and of its partitions.

    All three live under ``staged/``, which the build's check fingerprints whole right after:
    indexed once for the scheduling pass (``io.markers.index``).
    """
    index(the_lake.staged)
    return {
        "imports": fingerprint(the_lake.import_units_dir),
        "polls": fingerprint(the_lake.polls_dir),
        "plays": fingerprint(the_lake.plays_dir),
    }


def staging_known_current(the_lake: Lake) -> bool:
    """Whether nothing staging reads or writes changed since it was last found all current."""
    try:
        memo = json.loads(staging_memo_file(the_lake).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return memo == staging_fingerprints(the_lake)


def remember_staging_current(the_lake: Lake) -> None:
    """Record that every partition is current for the inputs as they are now."""
    write_json_atomic(staging_memo_file(the_lake), staging_fingerprints(the_lake))


def day_is_current(the_lake: Lake, day: dt.date) -> bool:
    """Whether ``day``'s partition exists and was built from the day's inputs as they are now."""
    if the_lake.plays_partition(day).exists() and staging_known_current(the_lake):
        return True
    return bool(current_days(the_lake, [day]))


def all_current(the_lake: Lake) -> bool:
    """Whether no day of the input index is stale (found so, it is remembered: the next pass
    only stats the files)."""
    if staging_known_current(the_lake):
        return True
    if stale_days(the_lake)[0]:
        return False
    remember_staging_current(the_lake)
    return True
