"""``music-tracker backup DEST``: a consistent copy of raw data, state and fetched lookups."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from pipeline.ops.backup import make_backup, verify
from pipeline.ops.lock import LAKE_LOCK, LockHeld, exclusive
from pipeline.paths import lake


def cmd_backup(args: argparse.Namespace) -> int:
    dest = Path(args.dest)
    if args.verify:
        problems = verify(dest)
        for line in problems:
            print(f"BAD: {line}")
        print("backup intact" if not problems else f"{len(problems)} problem(s)")
        return 0 if not problems else 1
    the_lake = lake()
    if dest.exists() and not dest.is_dir():
        print(f"error: {dest} is a file; give the folder that receives backups", file=sys.stderr)
        return 2
    now = dt.datetime.now(dt.UTC)
    holder = {"job": "backup", "pid": os.getpid(), "since": now.isoformat()}
    try:
        dest.mkdir(parents=True, exist_ok=True)
        # The cron lock: no pipeline run writes while the copy is taken.
        with exclusive(the_lake.lock_file(LAKE_LOCK), holder):
            result = make_backup(the_lake, dest, now)
    except LockHeld as held:
        print(f"error: {held}; try again when it has finished", file=sys.stderr)
        return 10
    except OSError as exc:  # a full or read-only disk; make_backup removed its partial copy
        where = f" ({exc.filename})" if exc.filename else ""
        print(
            f"error: backup to {dest} failed: {exc.strerror or exc}{where}; nothing was kept",
            file=sys.stderr,
        )
        return 1
    print(f"backup: {result.files} files, {result.bytes / 1048576:.1f} MB -> {result.path}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("backup", help="copy raw data, state and lookups to DEST")
    parser.add_argument("dest", help="folder that receives music-tracker-<time>/")
    parser.add_argument(
        "--verify", action="store_true", help="check an existing backup folder against its manifest"
    )
    parser.set_defaults(func=cmd_backup)
