"""``music-tracker``: the command line of the product.

Commands: ``demo`` (the whole pipeline on the bundled sample, offline), ``import PATH...`` (your
Spotify export files, a folder, or the .zip), ``build`` (bring the warehouse up to date),
``rebuild`` (staged data and warehouse from raw/ alone).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from pipeline import settings as settings_mod
from pipeline.log import configure_from_settings, setup_logging
from pipeline.ops.signals import interruptible

logger = logging.getLogger(__name__)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@contextlib.contextmanager
def lake_writer(job: str) -> Iterator[None]:
    """Hold the lake's writer lock for an interactive command, waiting for a holder to finish.

    Two writers at once (an import started while the 30-minute cron cycle builds) would meet on
    the warehouse's DuckDB lock half-way through and one would fail; waiting is what the user
    wants from a command typed at a shell (cron runs do not wait: the next one catches up).
    """
    from pipeline.ops.lock import LAKE_LOCK, describe, exclusive
    from pipeline.paths import lake

    holder = {"job": job, "pid": os.getpid(), "since": dt.datetime.now(dt.UTC).isoformat()}

    def say(held: dict) -> None:
        who = describe(held)
        print(f"Waiting for another run on this lake to finish ({who})...", file=sys.stderr)
        logger.info("waiting for the lake's writer lock (held by %s)", who)

    with exclusive(lake().lock_file(LAKE_LOCK), holder, wait=say):
        yield


def _build_everything(local_scheduler: bool = True) -> int:
    from pipeline.runner import run_tasks
    from pipeline.tasks import PublishReporting, StageAllPlays

    code = run_tasks([StageAllPlays()], local_scheduler=local_scheduler)
    if code:
        return code
    return run_tasks([PublishReporting(date=_today())], local_scheduler=local_scheduler)


def import_paths(paths: list[Path], account: str, local_scheduler: bool = True) -> int:
    """Import export files/folders/zips, bring the warehouse up to date, print a report."""
    from pipeline.report import import_exit_code, import_report, print_import_report
    from pipeline.runner import run_tasks
    from pipeline.tasks import ImportExports
    from pipeline.tasks.imports import find_export_files

    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"error: no such file or folder: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    files = find_export_files(paths)
    if not files:
        print("error: no Spotify streaming-history files found in the given paths", file=sys.stderr)
        return 2
    settings_mod.get_settings().account(account)
    task = ImportExports(files=tuple(str(f.resolve()) for f in files), account=account)
    code = run_tasks([task], local_scheduler=local_scheduler)
    if code == 0:
        code = _build_everything(local_scheduler)
    reports = import_report(files, account)
    print_import_report(reports)
    return code or import_exit_code(reports)  # an archive without an export exits non-zero


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the whole pipeline on the bundled sample, offline, into its own data folder."""
    from pipeline.report import print_summary

    settings = settings_mod.get_settings()
    sample = settings.paths.sample_dir
    if not sample.exists():
        print(f"error: bundled sample not found at {sample}", file=sys.stderr)
        return 2
    print(f"Music Tracker demo: importing the bundled sample from {sample}")
    print(f"(its own lake: {settings.paths.data_dir}; your real data is untouched)\n")
    code = import_paths([sample], settings.default_account)
    print_summary()
    return code


def cmd_import(args: argparse.Namespace) -> int:
    account = args.account or settings_mod.get_settings().default_account
    return import_paths([Path(p) for p in args.paths], account)


def cmd_build(args: argparse.Namespace) -> int:
    from pipeline.report import print_summary
    from pipeline.runner import run_tasks
    from pipeline.tasks import DailyPipeline

    date = args.date or _today()
    code = run_tasks([DailyPipeline(date=date)])
    if code == 0:
        print_summary()
    return code


def cmd_rebuild(args: argparse.Namespace) -> int:
    """Recreate staged/, the warehouse and reporting/ from raw/ alone."""
    from pipeline.report import print_summary
    from pipeline.runner import run_tasks
    from pipeline.tasks import ImportExports
    from pipeline.tasks.imports import raw_imports

    by_account: dict[str, list[str]] = {}
    for path, account in raw_imports():
        by_account.setdefault(account, []).append(str(path))
    tasks = [ImportExports(files=tuple(f), account=a) for a, f in sorted(by_account.items())]
    code = run_tasks(tasks) if tasks else 0
    if code == 0:
        from pipeline.paths import lake
        from pipeline.tasks.spotify import replay_all_raw_polls

        replay_all_raw_polls(lake())  # recently-played responses kept in raw/
    if code == 0:
        from pipeline.tasks.warehouse import whole_suite

        with whole_suite():  # every model, period and test
            code = _build_everything()
    if code == 0:
        print_summary()
    return code


#: Modules that add their own subcommands: each has ``register(subparsers)`` (keeps this file
#: small and lets each feature own its command).
COMMAND_MODULES: list[str] = [
    "pipeline.commands.spotify",
    "pipeline.commands.enrichment",
    "pipeline.commands.cron",
    "pipeline.commands.status",
    "pipeline.commands.backup",
    "pipeline.commands.metabase",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="music-tracker",
        description="Music Tracker: your household's Spotify listening as a DuckDB star schema.",
    )
    parser.add_argument(
        "--data-dir", help="data lake folder for this command (default: paths.data_dir)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run everything on the bundled sample (offline)")
    demo.set_defaults(func=cmd_demo, demo=True, writes_lake=True)

    imp = sub.add_parser("import", help="import Spotify export files, folders or the .zip")
    imp.add_argument("paths", nargs="+", help="Streaming_History_*.json, endsong_*.json, ...")
    imp.add_argument("--account", help="listener the files belong to (default_account)")
    imp.set_defaults(func=cmd_import, writes_lake=True)

    build = sub.add_parser("build", help="run the daily pipeline (stage, dbt build, publish)")
    build.add_argument("--date", type=dt.date.fromisoformat, help="UTC day (default today)")
    build.set_defaults(func=cmd_build, writes_lake=True)

    rebuild = sub.add_parser("rebuild", help="rebuild staged data and warehouse from raw/")
    rebuild.set_defaults(func=cmd_rebuild, writes_lake=True)

    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


@interruptible
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging()
    try:
        if args.data_dir:
            os.environ["MUSIC_TRACKER__PATHS__DATA_DIR"] = str(Path(args.data_dir).resolve())
        settings = settings_mod.reload_settings()
        if getattr(args, "demo", False):
            # The demo is offline: no network enrichment (issue 4).
            os.environ.setdefault("MUSIC_TRACKER__ENRICHMENT__ENABLED", "false")
            if not args.data_dir:
                os.environ["MUSIC_TRACKER__PATHS__DATA_DIR"] = str(settings.paths.demo_data_dir)
            settings_mod.reload_settings()
        configure_from_settings()
    except settings_mod.SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "writes_lake", False):
        with lake_writer(args.command):
            return int(args.func(args))
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
