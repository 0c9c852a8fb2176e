"""Work done once per state of some files, remembered across processes by a stamp file.

Some preparation is idempotent but needs a heavy library to find there is nothing to do: the
warehouse build's inputs (``warehouse.prepare``) are checked with Arrow before every build.
Done once for a state of its files (a stat-only ``io.markers.fingerprint``, or any JSON value),
a stamp file records that state; while the files are so, the next check is one small read.
So ``music-tracker import``'s own process, which runs dbt after its import child has done this
work, never loads Arrow or DuckDB beside dbt.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.io.atomic import write_json_atomic


def held_stamp(path: Path) -> Any:
    """The stamp ``set_stamp`` last recorded at ``path``; None when there is none to read.

    For work that can pick up where it stopped (what changed since the held stamp)."""
    try:
        held = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return held.get("stamp") if isinstance(held, dict) else None


def is_stamped(path: Path, stamp: Any, held: Any = None) -> bool:
    """Whether the work of ``path`` was done for exactly ``stamp`` (a JSON value, not None).

    ``held``: the stamp already read from ``path`` (``held_stamp``), not read again."""
    held = held_stamp(path) if held is None else held
    return held is not None and held == json.loads(json.dumps(stamp))


def set_stamp(path: Path, stamp: Any) -> None:
    """Record that the work of ``path`` is done for ``stamp`` (written atomically)."""
    write_json_atomic(path, {"stamp": stamp})
