"""How a build tells what it was built from: fingerprints of Parquet files, JSON markers.

A marker is a JSON file ``<directory>/date=D/<name>`` written at the end of a task's run. Each
carries a sequence number (its first key), one more than any other marker of its directory, and
the last written is the one with the highest sequence, whatever the files' mtimes say.

Luigi-free, so the status report (``ops/health.py``), the enrichment candidates and the cron
command read the same build state as the warehouse stage (``pipeline/warehouse/``)
without importing the task modules.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from pipeline.io.atomic import TMP_MARK, write_bytes_atomic
from pipeline.io.pass_cache import in_pass, memo, peek


def fingerprint(root: Path, exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """A cheap fingerprint of every Parquet file under ``root``, per dated partition.

    Keys are ``date=YYYY-MM-DD`` for files inside such a partition and ``""`` for the rest;
    values hash the (path, size, mtime) of their files. Tasks whose inputs can grow compare
    what they were built from with what is there now in ``complete()`` (docs/architecture.md,
    invariant 2), and can ignore the days after their own (``up_to``): a backfill staging later
    days does not undo the build of an earlier one.

    Inside a scheduling pass (``pass_cache``) the files are listed once: a tree indexed in the
    pass (``index``) answers for every folder below it too.
    """
    return memo(("fingerprint", str(root), exclude), lambda: _fingerprint(root, exclude))


def _fingerprint(root: Path, exclude: tuple[str, ...]) -> dict[str, str]:
    entries = _listing_below(root, exclude)
    files: dict[str, list[str]] = {}
    for rel, name, size, mtime in entries:
        key = next((part for part in rel.split("/") if part.startswith("date=")), "")
        files.setdefault(key, []).append(_line(rel, name, size, mtime))
    return {key: _digest(lines) for key, lines in sorted(files.items())}


def _line(rel: str, name: str, size: int, mtime: int) -> str:
    """One file of a fingerprint: its path below the fingerprinted root, size and mtime."""
    return f"{rel or '.'}/{name}:{size}:{mtime}"


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()[:16]


def files_fingerprint(root: Path, paths: list[Path]) -> str:
    """The fingerprint of the files ``paths`` (all under ``root``): one value of
    ``fingerprint``'s kind, a digest of their (path below ``root``, size, mtime).

    What a target built from a chosen set of files records (a day's play partition, from the
    import units and polls holding that day) and compares in ``complete()``: the same format
    as the build marker's fingerprint of the whole staged tree. A file rewritten under the same
    name (an import unit redone by a newer parser) changes it. Inside a scheduling pass the
    sizes and mtimes come from the pass's listing of ``root`` (``index``) if it has one, else
    from ``stat``: a check of one day's few inputs must not walk the ~3,650 partitions.
    """
    listed = memo(("stats", str(root)), lambda: _stats_below(root)) if is_indexed(root) else None
    lines = []
    for path in paths:
        rel = path.relative_to(root)
        folder, name = rel.parent.as_posix(), rel.name
        folder = "" if folder == "." else folder
        found = listed.get((folder, name)) if listed is not None else None
        if found is None:
            try:
                stat = path.stat()
            except FileNotFoundError:
                found = (-1, -1)  # gone: never equal to what was recorded of it
            else:
                found = (stat.st_size, stat.st_mtime_ns)
        lines.append(_line(folder, name, *found))
    return _digest(lines)


def _stats_below(root: Path) -> dict[tuple[str, str], tuple[int, int]]:
    return {(rel, name): (size, mtime) for rel, name, size, mtime in _listing_below(root, ())}


#: One listed file: (its folder below the listed root, "" for the root; name; size; mtime_ns).
_Entry = tuple[str, str, int, int]


def index(root: Path) -> None:
    """List every file under ``root`` now, for the rest of the scheduling pass (nothing outside
    a pass): fingerprints of ``root`` or of any folder below it are then cut from this listing.

    The staged tree holds the import units, the poll files and the play partitions, which
    staging's checks fingerprint one by one before the build's check fingerprints the whole
    tree: indexed first, it is walked once instead of four times (~15,000 files at 1M plays).
    """
    memo(("listing", str(root)), lambda: _walk(root, ()))


def newest_mtime(root: Path) -> int:
    """The newest mtime (ns) of the Parquet files under ``root``, -1 when there are none.

    Listed as ``fingerprint`` lists (``os.scandir``, strings; the pass's listing when there is
    one): a cron cycle that polled nothing asks it of ~10,000 staged files at a million plays,
    and a walk making a ``Path`` for each took about twice as long.
    """
    return max((mtime for _rel, _name, _size, mtime in _listing_below(root, ())), default=-1)


def is_indexed(root: Path) -> bool:
    """Whether this pass has listed ``root`` or a folder above it (``index``): answers cut from
    that listing cost no walk."""
    return in_pass() and any(peek(("listing", str(p))) is not None for p in (root, *root.parents))


def _listing_below(root: Path, exclude: tuple[str, ...]) -> list[_Entry]:
    """The files under ``root``, its top-level folders in ``exclude`` left out: cut from the
    pass's listing of it or of a folder above it (``index``), else walked now."""
    for above in (root, *root.parents):
        listing: list[_Entry] | None = peek(("listing", str(above)))
        if listing is None:
            continue
        below = root.relative_to(above).as_posix()
        if below != ".":
            prefix = below + "/"
            listing = [
                (rel[len(prefix) :] if rel != below else "", name, size, mtime)
                for rel, name, size, mtime in listing
                if rel == below or rel.startswith(prefix)
            ]
        if not exclude:
            return listing
        return [entry for entry in listing if entry[0].split("/")[0] not in exclude]
    return _walk(root, exclude)


def _walk(root: Path, exclude: tuple[str, ...]) -> list[_Entry]:
    # os.scandir and string joins, not os.walk and os.path.relpath: at a million plays this
    # walks ~15,000 files, and relpath alone was a third of the time. Same entries as a walk
    # (symlinked folders are not entered), so fingerprints stay comparable across versions.
    entries: list[_Entry] = []
    pending: list[tuple[str, str]] = [(str(root), "")]  # (folder, its path below root)
    while pending:
        folder, rel = pending.pop()
        try:
            listing = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
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
            entries.append((rel, name, stat.st_size, stat.st_mtime_ns))
    return entries


def up_to(prints: dict[str, str], day: dt.date) -> dict[str, str]:
    """The part of a fingerprint a build for ``day`` depends on (undated + days <= day)."""
    limit = f"date={day.isoformat()}"
    return {key: value for key, value in prints.items() if key <= limit}


def changed_days(before: dict[str, str], now: dict[str, str]) -> list[dt.date] | None:
    """The days whose part of a fingerprint differs between ``before`` and ``now`` (days added
    or removed too), in order; None when a part outside a ``date=`` partition differs."""
    days: list[dt.date] = []
    for key in sorted(before.keys() | now.keys()):
        if before.get(key) == now.get(key):
            continue
        if not key.startswith("date="):
            return None
        days.append(dt.date.fromisoformat(key.removeprefix("date=")))
    return days


#: The key of a marker's build sequence number; written first, so ordering reads a file's head.
SEQUENCE = "sequence"
#: How much of a marker's head is read for its sequence (a run-results marker is large).
_HEAD_BYTES = 64
_SEQUENCE_HEAD = re.compile(rb'\A\{\s*"' + SEQUENCE.encode() + rb'":\s*(\d+)\s*[,}]')


def marker_sequence(path: Path) -> int | None:
    """The sequence number written at the head of a marker, or None (a marker from before
    sequences, or one that cannot be read)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except OSError:
        return None
    found = _SEQUENCE_HEAD.match(head)
    return int(found.group(1)) if found else None


def _markers(directory: Path, name: str) -> list[tuple[tuple[int, int, int], Path]]:
    """Every ``date=*/name`` marker under ``directory`` with its order key, oldest first.

    The key is (has a sequence, sequence, mtime): markers from before sequences come before
    every sequenced one, by mtime among themselves; equal sequences (two writers at once, which
    the warehouse resource and the lake lock prevent) fall back to mtime.
    """
    if not directory.exists():
        return []
    found = []
    for path in directory.glob(f"date=*/{name}"):
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            continue
        sequence = marker_sequence(path)
        key = (0, 0, mtime) if sequence is None else (1, sequence, mtime)
        found.append((key, path))
    return sorted(found)


def next_sequence(directory: Path, name: str) -> int:
    """One more than the highest sequence of the ``date=*/name`` markers under ``directory``."""
    sequences = [key[1] for key, _ in _markers(directory, name) if key[0]]
    return max(sequences, default=0) + 1


def write_marker(path: Path, payload: dict[str, Any]) -> int:
    """Write the marker ``path`` (``<directory>/date=D/<name>``) atomically, numbered after
    every marker of its directory; return its sequence number.

    The sequence, not the mtime, says which marker was written last (``latest_marker``): mtimes
    tie within a filesystem's granularity and move with a copy or a restore. The payload is
    written as ``write_json_atomic`` would (keys sorted), after the sequence.
    """
    sequence = next_sequence(path.parent.parent, path.name)
    body = json.loads(json.dumps(payload, sort_keys=True, default=str))
    body.pop(SEQUENCE, None)
    data = json.dumps({SEQUENCE: sequence, **body}, indent=2, default=str).encode("utf-8")
    write_bytes_atomic(path, data + b"\n")
    return sequence


def latest_marker(directory: Path, name: str) -> tuple[dt.date, dict[str, Any]] | None:
    """The last *written* ``date=*/name`` JSON marker under ``directory``, with its date.

    Written last, not dated last: the warehouse is whatever the last build made, whichever day it
    was run for (a backfill builds older days after newer ones). Markers are ordered by their
    sequence number (``write_marker``); ones from before sequences by mtime, before the rest.
    A marker that is not a readable JSON object is skipped: the one before it counts.
    """
    for _, path in reversed(_markers(directory, name)):
        try:
            day = dt.date.fromisoformat(path.parent.name.removeprefix("date="))
            body = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            continue
        if isinstance(body, dict):  # damaged to another JSON value (null, a list): skipped too
            return day, body
    return None
