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
from pipeline.io.pass_cache import memo


def fingerprint(root: Path, exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """A cheap fingerprint of every Parquet file under ``root``, per dated partition.

    Keys are ``date=YYYY-MM-DD`` for files inside such a partition and ``""`` for the rest;
    values hash the (path, size, mtime) of their files. Tasks whose inputs can grow compare
    what they were built from with what is there now in ``complete()`` (docs/architecture.md,
    invariant 2), and can ignore the days after their own (``up_to``): a backfill staging later
    days does not undo the build of an earlier one. Inside a scheduling pass each tree is
    walked once (``pass_cache``).
    """
    return memo(("fingerprint", str(root), exclude), lambda: _fingerprint(root, exclude))


def _fingerprint(root: Path, exclude: tuple[str, ...]) -> dict[str, str]:
    # os.scandir and string joins, not os.walk and os.path.relpath: at a million plays this
    # walks ~15,000 files, and relpath alone was a third of the time. Same entries as a walk
    # (symlinked folders are not entered), so fingerprints stay comparable across versions.
    entries: dict[str, list[str]] = {}
    pending: list[tuple[str, str]] = [(str(root), "")]  # (folder, its path below root)
    while pending:
        folder, rel = pending.pop()
        try:
            listing = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        key = next((part for part in rel.split("/") if part.startswith("date=")), "")
        for entry in listing:
            if entry.is_dir():
                if not entry.is_symlink() and (rel or entry.name not in exclude):
                    pending.append((entry.path, f"{rel}/{entry.name}" if rel else entry.name))
                continue
            name = entry.name
            if not name.endswith(".parquet") or TMP_MARK in name:
                continue
            try:
                stat = entry.stat()
            except FileNotFoundError:  # replaced while we looked: the next pass sees it
                continue
            entries.setdefault(key, []).append(
                f"{rel or '.'}/{name}:{stat.st_size}:{stat.st_mtime_ns}"
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
