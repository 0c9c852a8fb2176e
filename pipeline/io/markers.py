"""How a build tells what it was built from: fingerprints of Parquet files, JSON markers.

Luigi-free, so the status report (``ops/health.py``), the enrichment candidates and the cron
command read the same build state as the tasks (``tasks/base.py``, ``tasks/warehouse.py``)
without importing the task modules.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from pipeline.io.atomic import TMP_MARK


def fingerprint(root: Path, exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """A cheap fingerprint of every Parquet file under ``root``, per dated partition.

    Keys are ``date=YYYY-MM-DD`` for files inside such a partition and ``""`` for the rest;
    values hash the (path, size, mtime) of their files. Tasks whose inputs can grow compare
    what they were built from with what is there now in ``complete()`` (docs/architecture.md,
    invariant 2), and can ignore the days after their own (``up_to``): a backfill staging later
    days does not undo the build of an earlier one.
    """
    entries: dict[str, list[str]] = {}
    if root.exists():
        for dirpath, dirnames, filenames in os.walk(root):
            rel = os.path.relpath(dirpath, root)
            parts = rel.split(os.sep)
            if rel != "." and parts[0] in exclude:
                dirnames[:] = []
                continue
            key = next((part for part in parts if part.startswith("date=")), "")
            for name in filenames:
                if not name.endswith(".parquet") or TMP_MARK in name:
                    continue
                stat = os.stat(os.path.join(dirpath, name))
                entries.setdefault(key, []).append(
                    f"{rel}/{name}:{stat.st_size}:{stat.st_mtime_ns}"
                )
    return {
        key: hashlib.sha256("\n".join(sorted(files)).encode()).hexdigest()[:16]
        for key, files in sorted(entries.items())
    }


def latest_marker(directory: Path, name: str) -> tuple[dt.date, dict[str, Any]] | None:
    """The most recently *written* ``date=*/name`` JSON marker under ``directory``, with its date.

    Written last, not dated last: the warehouse is whatever the last build made, whichever day it
    was run for (a backfill builds older days after newer ones).
    """
    if not directory.exists():
        return None
    found: list[tuple[int, Path]] = []
    for path in directory.glob(f"date=*/{name}"):
        try:
            found.append((path.stat().st_mtime_ns, path))
        except OSError:
            continue
    for _, path in sorted(found, reverse=True):
        try:
            day = dt.date.fromisoformat(path.parent.name.removeprefix("date="))
            return day, json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            continue
    return None
