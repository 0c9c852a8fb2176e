"""A cache of "every partition is current": stat-only fingerprints of staging's files.

Checking every partition's provenance reads thousands of Parquet footers plus every podcast
row (measured: ~2.5 s per scheduling pass at 1M plays, most of a no-op cycle); a walk with
``stat`` only is cheap. The memo is written when staging was found (or made) all current, and
holds while nothing staging reads or writes changed.

When only some days' poll files or partitions changed (a 30-minute cycle adds one poll file
to today), only those days are checked: every other day has the very files it was found
current with. The podcast shows known across all inputs are the exception that reaches every
day (a partition of account data records them), so their digest is kept too and a new show
means the whole check. New import units, or files outside a day, mean the whole check too.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from pipeline.io.atomic import write_json_atomic
from pipeline.io.markers import changed_days, fingerprint, index, is_indexed
from pipeline.paths import Lake
from pipeline.staging.inputs import (
    current_days,
    inputs_by_date,
    inputs_known,
    partition_is_current,
    podcast_shows,
)
from pipeline.transform.dedupe import shows_digest


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


def _read_memo(the_lake: Lake) -> dict | None:
    try:
        memo = json.loads(staging_memo_file(the_lake).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return memo if isinstance(memo, dict) and "files" in memo and "shows" in memo else None


def staging_known_current(the_lake: Lake) -> bool:
    """Whether nothing staging reads or writes changed since it was last found all current."""
    memo = _read_memo(the_lake)
    return memo is not None and memo["files"] == staging_fingerprints(the_lake)


def _remember(the_lake: Lake, files: dict[str, dict[str, str]], shows: str) -> None:
    write_json_atomic(staging_memo_file(the_lake), {"files": files, "shows": shows})


def remember_staging_current(the_lake: Lake, shows: str) -> None:
    """Record that every partition is current for the inputs as they are now, whose podcast
    shows have the digest ``shows``."""
    _remember(the_lake, staging_fingerprints(the_lake), shows)


def _staging_changed_days(before: dict, now: dict) -> set[dt.date] | None:
    """The days whose poll files or partition changed between two ``staging_fingerprints``;
    None when the import units or any file outside a day changed (every day is in question)."""
    if before.get("imports") != now["imports"]:
        return None
    days: set[dt.date] = set()
    for part in ("polls", "plays"):
        changed = changed_days(before.get(part, {}), now[part])
        if changed is None:
            return None
        days.update(changed)
    return days


def day_is_current(the_lake: Lake, day: dt.date) -> bool:
    """Whether ``day``'s partition exists and was built from the day's inputs as they are now.

    The memo answers when this pass has listed the staged tree already, or when this process
    has no input index yet (a command's first check: one walk costs less than reading every
    unit's footer). Otherwise the day is checked on its own, its provenance against its inputs,
    whose index the process keeps: the import units and poll files are listed, not the ~3,650
    partitions. Luigi re-checks a task's inputs before it runs, and a cycle's build asks this
    ~15 times, each in a pass of its own: walking the whole tree for each was ~60 ms at a
    million plays.
    """
    if not the_lake.plays_partition(day).exists():
        return False
    memo_first = is_indexed(the_lake.staged) or not inputs_known(the_lake)
    if memo_first and staging_known_current(the_lake):
        return True
    return bool(current_days(the_lake, [day]))


def all_current(the_lake: Lake) -> bool:
    """Whether no day of the input index is stale (found so, it is remembered: the next pass
    only stats the files, and a pass after a poll checks only the days it changed)."""
    memo = _read_memo(the_lake)
    now = staging_fingerprints(the_lake)
    if memo is not None and memo["files"] == now:
        return True
    index = inputs_by_date(the_lake)
    digest = shows_digest(podcast_shows(the_lake, index))
    days = _staging_changed_days(memo["files"], now) if memo is not None else None
    if days is None or memo is None or memo["shows"] != digest:
        days = set(index)
    for day in sorted(days & set(index)):
        if not partition_is_current(the_lake, day, index[day], digest):
            return False
    _remember(the_lake, now, digest)
    return True
