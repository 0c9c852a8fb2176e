"""Write files so that a reader (or a rerun) never sees half of one.

Every write goes to a temporary name in the same directory, is flushed and fsynced, then renamed
over the target with ``os.replace`` (atomic on POSIX). The temporary name ends in
``-luigi-tmp-NNNNNNNNNN`` like Luigi's ``temporary_path()``, so ``*.parquet`` globs never match it.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TMP_MARK = "-luigi-tmp-"
#: A temp file untouched this long belongs to a killed writer, not a running one (for temp
#: names that do not say their writer: Luigi's own, older versions').
STALE_TEMP_SECONDS = 3600


def temp_name(target: Path, writer: int | None = None) -> Path:
    """A sibling of ``target`` that no reader's glob matches, named after the process writing
    it (``writer``, default this one) so ``clean_temp_files`` can reap it as soon as that
    process is gone: a killed write's leftover, one file or a year of day files, goes with the
    rerun instead of an hour later."""
    owner = os.getpid() if writer is None else writer
    return target.with_name(f"{target.name}{TMP_MARK}p{owner}-{random.randrange(10**10):010d}")


def _writer_gone(path: Path) -> bool:
    """Whether ``path`` is a temp file whose name says which process wrote it, and that
    process has ended (a zombie not yet reaped has: a killed import's child is one for a
    moment after its parent died; a pid in use again, or not ours to signal, counts as alive)."""
    rest = path.name.partition(TMP_MARK)[2]
    pid = rest[1:].partition("-")[0] if rest.startswith("p") else ""
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    from pipeline.io.procs import process_entry

    entry = process_entry(int(pid))
    return entry is not None and entry.state == "Z"


@contextlib.contextmanager
def atomic_path(target: Path | str, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path; rename it onto ``target`` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(target)
    try:
        yield tmp
        if mode is not None:
            os.chmod(tmp, mode)
        _fsync(tmp)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


#: From this many files a batch is made durable by one ``syncfs`` (``AtomicBatch.commit``).
SYNCFS_FROM = 8


class AtomicBatch:
    """Many files written under temporary names, made durable together, then renamed in.

    Each file still appears whole or not at all, as with ``atomic_path``: a crash before
    ``commit`` leaves only temporary names (reaped by ``clean_temp_files``), one during it
    leaves some files renamed in and the rest temporary. The difference is durability: one
    ``syncfs`` of the filesystem before the renames instead of an ``fsync`` per file. A
    ten-year import writes ~3,650 day files; their fsyncs were ~8 s of the writer threads' time
    at 1M plays here, and a NAS's disks take tens of milliseconds each. Where ``syncfs`` is
    missing (not Linux) each file is fsynced at ``commit``. ``path`` may be used from several
    threads. ``commit`` takes the files whose writes have ended (one still being written joins
    the next commit: staging commits a year at a time while its writer threads go on);
    ``discard`` only once every write has ended.
    """

    def __init__(self) -> None:
        import threading

        self._pending: list[tuple[Path, Path]] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def path(self, target: Path | str) -> Iterator[Path]:
        """Yield a temporary path for ``target``; it is renamed in at the next ``commit``."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_name(target)  # named after this process: reaped at once if it is killed
        try:
            yield tmp
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        with self._lock:
            self._pending.append((tmp, target))

    def commit(self) -> None:
        """Make every file written so far durable, then rename each onto its target."""
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        # A few files: their own fsyncs, not the whole filesystem's dirty pages.
        if len(pending) < SYNCFS_FROM or not _syncfs(pending[0][0]):
            for tmp, _ in pending:
                _fsync(tmp)
        for tmp, target in pending:
            os.replace(tmp, target)

    def discard(self) -> None:
        """Remove the temporary files not committed (a failed batch)."""
        with self._lock:
            pending, self._pending = self._pending, []
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)


def _syncfs(path: Path) -> bool:
    """Flush the filesystem holding ``path`` (Linux ``syncfs``); False where unavailable."""
    import ctypes

    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            raise OSError(ctypes.get_errno(), f"syncfs failed on {path}")
    finally:
        os.close(fd)
    return True


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError), open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def write_bytes_atomic(target: Path | str, data: bytes, mode: int | None = None) -> None:
    """Write ``data`` to ``target`` atomically (optionally with a file mode, e.g. 0o600)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    fd = os.open(tmp, flags, 0o600 if mode is None else mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is None:
            os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json_atomic(target: Path | str, obj: Any, mode: int | None = None) -> None:
    """Write ``obj`` as pretty JSON atomically."""
    data = json.dumps(obj, indent=2, sort_keys=True, default=str).encode("utf-8") + b"\n"
    write_bytes_atomic(target, data, mode=mode)


def clean_temp_files(root: Path, older_than_s: float = STALE_TEMP_SECONDS) -> int:
    """Remove leftovers of killed writers under ``root``; return how many were removed.

    ``older_than_s`` spares temp files a live writer may still be filling (another run),
    unless the file's name says which process wrote it and that process is gone (every temp
    name made by ``temp_name`` says it; Luigi's own and older versions' do not, and wait).
    """
    import time

    removed = 0
    if not root.exists():
        return 0
    cutoff = time.time() - older_than_s
    for path in root.rglob(f"*{TMP_MARK}*"):
        with contextlib.suppress(OSError):
            if older_than_s and path.stat().st_mtime > cutoff and not _writer_gone(path):
                continue
            path.unlink()
            removed += 1
    return removed
