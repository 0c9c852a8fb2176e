"""A consistent, restorable copy of what cannot be rebuilt: raw data, state, fetched lookups.

``staged/`` plays, the warehouse and ``reporting/`` are rebuilt from ``raw/`` by
``music-tracker rebuild`` (docs/architecture.md, invariant 1), so they are left out. Kept: ``raw/``
(every export file and API response), ``state/`` (cursors, lookup state, token caches with their
0600 modes), and the staged datasets that came from the network (lookups, polls, gaps), which
would cost API budget to fetch again.

Consistency: the copy is taken under the cron lock (no pipeline run writes meanwhile), into a
temporary folder renamed into place when complete, with a manifest of every file's size and
SHA-256 so ``--verify`` (or a human) can check it later.

Modes: a backup holds refresh tokens and, in every raw export row, the listener's IP address,
and often lands on a shared disk: every folder of it is 0700 and every file 0600, whatever the
source's modes and the umask (``cp -a`` of its ``data/`` restores them so).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from pipeline.io.atomic import TMP_MARK
from pipeline.paths import Lake

#: Modes of everything a backup writes (issue 12: ``state/tokens/`` was 0755).
DIR_MODE = 0o700
FILE_MODE = 0o600

#: Staged datasets that are derived from raw/ and therefore not backed up.
DERIVED_STAGED = ("plays", "imports", "dbt_runs", "published", "reference", "quarantine")


@dataclass(frozen=True)
class BackupResult:
    path: Path
    files: int
    bytes: int


def included(the_lake: Lake) -> list[Path]:
    """Every file a backup holds (sorted, relative to the data folder)."""
    roots = [the_lake.raw, the_lake.state]
    if the_lake.staged.exists():
        roots += [p for p in sorted(the_lake.staged.iterdir()) if p.name not in DERIVED_STAGED]
    files: list[Path] = []
    for root in roots:
        if root.is_file():
            files.append(root)
            continue
        for dirpath, _dirs, names in os.walk(root):
            for name in names:
                if TMP_MARK in name or name.endswith(".lock"):
                    continue
                files.append(Path(dirpath) / name)
    return sorted(p.relative_to(the_lake.root) for p in files)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _private_dir(path: Path, upto: Path | None = None) -> None:
    """Create ``path`` (and its parents below ``upto``) as 0700 folders, whatever the umask."""
    missing = []
    probe = path
    while not probe.exists() and probe != upto and probe.parent != probe:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE)
        os.chmod(folder, DIR_MODE)


def make_backup(the_lake: Lake, dest: Path, now: dt.datetime) -> BackupResult:
    """Copy into ``dest/music-tracker-<UTC time>/data/``; return where and how much."""
    name = f"music-tracker-{now:%Y%m%dT%H%M%SZ}"
    final = dest / name
    if final.exists():
        raise FileExistsError(f"{final} already exists")
    tmp = dest / f"{name}{TMP_MARK}{os.getpid()}"
    manifest: dict[str, dict[str, object]] = {}
    total = 0
    dest.mkdir(parents=True, exist_ok=True)
    try:
        _private_dir(tmp)
        for rel in included(the_lake):
            src = the_lake.root / rel
            target = tmp / "data" / rel
            _private_dir(target.parent, upto=tmp)
            shutil.copy2(src, target)  # keeps mtimes; the mode is set below
            os.chmod(target, FILE_MODE)
            size = target.stat().st_size
            total += size
            manifest[str(rel)] = {
                "bytes": size,
                "sha256": _sha256(target),
                "mode": oct(target.stat().st_mode & 0o777),
            }
        for rel_dir in ("raw", "state"):
            _private_dir(tmp / "data" / rel_dir, upto=tmp)
        info = {"created_at": now.isoformat(), "source": str(the_lake.root), "files": manifest}
        fd = os.open(tmp / "MANIFEST.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(info, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return BackupResult(final, len(manifest), total)


def verify(backup: Path) -> list[str]:
    """Files of a backup whose size or checksum differ from its manifest (empty if intact).

    A folder without a readable manifest is one problem, said as such: the usual slip is
    checking ``DEST`` instead of the ``DEST/music-tracker-<time>/`` a backup made, so those
    are named.
    """
    try:
        info = json.loads((backup / "MANIFEST.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        inside = sorted(p.parent.name for p in backup.glob("music-tracker-*/MANIFEST.json"))
        hint = f"; the backups in it: {', '.join(inside)}" if inside else ""
        return [f"{backup}: no MANIFEST.json, not a backup folder{hint}"]
    except (OSError, ValueError) as exc:
        return [f"MANIFEST.json: unreadable ({exc}); this backup cannot be checked"]
    files = info.get("files") if isinstance(info, dict) else None
    if not isinstance(files, dict):
        return ["MANIFEST.json: damaged (no list of files); this backup cannot be checked"]
    bad: list[str] = []
    for rel, meta in files.items():
        path = backup / "data" / rel
        if not isinstance(meta, dict) or not {"bytes", "sha256"} <= meta.keys():
            bad.append(f"{rel}: damaged manifest entry")
        elif not path.exists():
            bad.append(f"{rel}: missing")
        elif path.stat().st_size != meta["bytes"] or _sha256(path) != meta["sha256"]:
            bad.append(f"{rel}: changed")
    return bad
