"""What every task shares: the lake, result logging, and the staged-data fingerprint."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import luigi

from pipeline.io.atomic import TMP_MARK
from pipeline.paths import Lake, lake

logger = logging.getLogger("pipeline.tasks")


def current_lake() -> Lake:
    """The lake of the current settings (tests re-point it per test)."""
    return lake()


@contextmanager
def timed_result(task: luigi.Task, dataset: str, date: dt.date | None = None) -> Iterator[dict]:
    """Log one INFO line per task result: dataset, date, rows and seconds."""
    result: dict = {"rows": 0}
    started = time.monotonic()
    yield result
    seconds = round(time.monotonic() - started, 3)
    logger.info(
        "task=%s dataset=%s date=%s rows=%s seconds=%s",
        task.get_task_family(),
        dataset,
        date.isoformat() if date else "-",
        result.get("rows", 0),
        seconds,
        extra={
            "task": task.get_task_family(),
            "dataset": dataset,
            "date": date.isoformat() if date else None,
            "rows": result.get("rows", 0),
            "seconds": seconds,
        },
    )


def fingerprint(root: Path, exclude: tuple[str, ...] = ()) -> str:
    """A cheap fingerprint of every Parquet file under ``root`` (path, size, mtime).

    Tasks whose inputs can grow (a partition rebuilt with new polls) compare the fingerprint they
    were built from with the current one in ``complete()`` (ARCHITECTURE invariant 2).
    """
    digest = hashlib.sha256()
    entries: list[str] = []
    if root.exists():
        for dirpath, dirnames, filenames in os.walk(root):
            rel = os.path.relpath(dirpath, root)
            if rel != "." and rel.split(os.sep)[0] in exclude:
                dirnames[:] = []
                continue
            dirnames.sort()
            for name in filenames:
                if not name.endswith(".parquet") or TMP_MARK in name:
                    continue
                stat = os.stat(os.path.join(dirpath, name))
                entries.append(f"{rel}/{name}:{stat.st_size}:{stat.st_mtime_ns}")
    for entry in sorted(entries):
        digest.update(entry.encode())
        digest.update(b"\n")
    return digest.hexdigest()[:20]
