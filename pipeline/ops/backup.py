"""A consistent, restorable copy of what cannot be rebuilt: raw data, state, fetched lookups.

``staged/`` plays, the warehouse and ``reporting/`` are rebuilt from ``raw/`` by
``music-tracker rebuild`` (ARCHITECTURE invariant 1), so they are left out. Kept: ``raw/``
(every export file and API response), ``state/`` (cursors, lookup state, token caches with their
0600 modes), and the staged datasets that came from the network (lookups, polls, gaps), which
would cost API budget to fetch again.

Consistency: the copy is taken under the cron lock (no pipeline run writes meanwhile), into a
temporary folder renamed into place when complete, with a manifest of every file's size and
SHA-256 so ``--verify`` (or a human) can check it later.
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


def make_backup(the_lake: Lake, dest: Path, now: dt.datetime) -> BackupResult:
    """Copy into ``dest/music-tracker-<UTC time>/data/``; return where and how much."""
    name = f"music-tracker-{now:%Y%m%dT%H%M%SZ}"
    final = dest / name
    if final.exists():
        raise FileExistsError(f"{final} already exists")
    tmp = dest / f"{name}{TMP_MARK}{os.getpid()}"
    manifest: dict[str, dict[str, object]] = {}
    total = 0
    try:
        for rel in included(the_lake):
            src = the_lake.root / rel
            target = tmp / "data" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)  # keeps modes (token caches stay 0600) and mtimes
            size = target.stat().st_size
            total += size
            manifest[str(rel)] = {
                "bytes": size,
                "sha256": _sha256(target),
                "mode": oct(target.stat().st_mode & 0o777),
            }
        for rel_dir in ("raw", "state"):
            (tmp / "data" / rel_dir).mkdir(parents=True, exist_ok=True)
        info = {"created_at": now.isoformat(), "source": str(the_lake.root), "files": manifest}
        (tmp / "MANIFEST.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return BackupResult(final, len(manifest), total)


def verify(backup: Path) -> list[str]:
    """Files of a backup whose size or checksum differ from its manifest (empty if intact)."""
    info = json.loads((backup / "MANIFEST.json").read_text(encoding="utf-8"))
    bad: list[str] = []
    for rel, meta in info["files"].items():
        path = backup / "data" / rel
        if not path.exists():
            bad.append(f"{rel}: missing")
        elif path.stat().st_size != meta["bytes"] or _sha256(path) != meta["sha256"]:
            bad.append(f"{rel}: changed")
    return bad
