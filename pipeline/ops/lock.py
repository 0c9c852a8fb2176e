"""One writer per lake at a time: an advisory ``flock`` on a file under ``state/locks/``.

Cron runs, backups and the interactive commands that write the lake (``import``, ``build``,
``rebuild``, ``demo``) all take ``LAKE_LOCK``: a second cron run exits at once (the next one
will catch up), an interactive command waits for the holder to finish instead of failing on
the warehouse's DuckDB lock half-way through. The kernel drops the lock when the holder exits
(even when killed), so there are no stale locks to clean up; the file only carries who holds
it, for the message the second run prints.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

#: The lock every writer of a lake takes (its file is ``state/locks/cron.lock``).
LAKE_LOCK = "cron"


def describe(holder: dict[str, Any]) -> str:
    """Who holds a lock, as the messages show it ("job daily, run_id ..., pid 42")."""
    return ", ".join(f"{k} {v}" for k, v in holder.items()) or "unknown holder"


class LockHeld(Exception):
    """Another process holds the lock; ``holder`` is what it wrote (job, run id, pid, since)."""

    def __init__(self, path: Path, holder: dict[str, Any]):
        super().__init__(f"{path.name} is held by another run ({describe(holder)})")
        self.path = path
        self.holder = holder


@contextlib.contextmanager
def exclusive(
    path: Path,
    holder: dict[str, Any],
    wait: Callable[[dict[str, Any]], None] | None = None,
) -> Iterator[None]:
    """Hold ``path`` exclusively for the block, or raise ``LockHeld`` at once.

    With ``wait``, block until the holder is done instead, after calling ``wait(holder)`` once
    (to tell the user who is being waited for).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            if wait is None:
                raise LockHeld(path, _read(fd)) from None
            wait(_read(fd))
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder, default=str).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read(fd: int) -> dict[str, Any]:
    try:
        data = os.pread(fd, 4096, 0)
        value = json.loads(data.decode("utf-8")) if data else {}
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
