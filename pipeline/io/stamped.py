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


def is_stamped(path: Path, stamp: Any) -> bool:
    """Whether the work of ``path`` was done for exactly ``stamp`` (a JSON value)."""
    try:
        held = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(held, dict) and held.get("stamp") == json.loads(json.dumps(stamp))


def set_stamp(path: Path, stamp: Any) -> None:
    """Record that the work of ``path`` is done for ``stamp`` (written atomically)."""
    write_json_atomic(path, {"stamp": stamp})
