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
from pipeline.io.duck import freeze_survivors
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


def _publish(local_scheduler: bool = False) -> int:
    """dbt build and publish, in this (slim) process once the ingest child has exited."""
    from pipeline.runner import run_tasks
    from pipeline.tasks import PublishReporting

    return run_tasks([PublishReporting(date=_today())], local_scheduler=local_scheduler)


def cmd_stage(args: argparse.Namespace) -> int:
    """Internal (``_stage``): the ingest half of import/rebuild, run by ``stage_child``."""
    from pipeline.runner import run_tasks
    from pipeline.tasks import ImportExports, StageAllPlays

    local = not args.central
    new_units: set[str] = set()  # import units this import added (a rerun adds none)
    if args.rebuild:
        from pipeline.ingest.exports import raw_imports
        from pipeline.ingest.polls import replay_all_raw_polls
        from pipeline.paths import lake

        by_account: dict[str, list[str]] = {}
        for path, account in raw_imports():
            by_account.setdefault(account, []).append(str(path))
        tasks = [ImportExports(files=tuple(f), account=a) for a, f in sorted(by_account.items())]
        code = run_tasks(tasks, local_scheduler=local) if tasks else 0
        if code:
            return code
        replay_all_raw_polls(lake())  # recently-played responses kept in raw/
    else:
        from pipeline.ingest.units import unit_id
        from pipeline.io.atomic import write_json_atomic
        from pipeline.summary import known_units, parsed_rows, staged_play_count

        files = [Path(p) for p in args.paths]
        # What the import summary needs from before and after the import, asked here: DuckDB
        # work in the parent would stay in its heap while dbt runs (measured: +30 MB).
        known = sorted(known_units(files, args.account))
        facts = {"before": staged_play_count(args.account), "known": known}
        task = ImportExports(files=tuple(args.paths), account=args.account)
        code = run_tasks([task], local_scheduler=local)
        facts["nothing"] = code == 0 and parsed_rows(files, args.account) == 0
        ids = {str(f): unit_id(f, args.account) for f in files}  # hashed: cached
        facts["ids"] = ids
        if args.facts:
            write_json_atomic(Path(args.facts), facts)
        if code or facts["nothing"]:
            return code
        new_units = set(ids.values()) - set(known)
    code = run_tasks([StageAllPlays()], local_scheduler=local)
    if code:
        return code
    if args.rebuild or new_units:  # a build follows: the parent may start dbt now
        from pipeline.ops.stage_child import say_staged

        say_staged()
    # The build's other inputs (the day's staging and enrichment read every staged play) run
    # here too, so the parent schedules dbt with nothing but its own ~50 MB.
    from pipeline.paths import lake
    from pipeline.tasks import DbtBuild
    from pipeline.warehouse.prepare import hand_over

    code = run_tasks(list(DbtBuild(date=_today()).requires()), local_scheduler=local)
    if code == 0:
        hand_over(lake())
    return code


def _start_dbt_ahead() -> None:
    """The stage child's plays are staged: start dbt's interpreter for the build that follows
    (``warehouse.warm``); the build's own start ahead finds it waiting and the run's end stops
    it if no build comes (nothing changed). Not where Luigi runs each task in a process of its
    own (``force_multiprocessing``): that build could not use it."""
    import luigi.worker

    from pipeline.paths import lake
    from pipeline.warehouse.run import warm_up

    if not luigi.worker.worker().force_multiprocessing:
        warm_up(lake())


def _stage(
    files: list[Path] | None = None,
    account: str | None = None,
    rebuild: bool = False,
    local_scheduler: bool = False,
    facts: Path | None = None,
) -> int:
    """The ingest half of ``import``/``rebuild`` in its child (``ops.stage_child``), dbt
    started as soon as the child's plays are staged, and stopped again if the child then fails
    (no build follows a failed stage). The child's exit code."""
    from pipeline.ops.stage_child import run_stage_child
    from pipeline.warehouse import warm

    code = run_stage_child(files, account, rebuild, local_scheduler, facts, _start_dbt_ahead)
    if code != 0:
        warm.discard()
    return code


def cmd_parse(args: argparse.Namespace) -> int:
    """Internal (``_parse``): parse the dbt project as a build would and keep dbt's saved parse
    (``target/partial_parse.msgpack``), so a first build starts from it. The image's build runs
    it: a container's first import or cycle then parses nothing (~3.4 s here, more on a NAS)."""
    from pipeline.paths import lake
    from pipeline.warehouse.run import run_dbt

    result = run_dbt(lake(), ["parse", "--no-write-json"])
    return 0 if result.ok else 1


def import_paths(paths: list[Path], account: str, local_scheduler: bool = False) -> int:
    """Import export files/folders/zips, bring the warehouse up to date, print a report.

    Exit codes: 0 imported (or nothing new: a rerun), 2 bad arguments, 3 an archive without an
    export, 4 nothing in the given files could be imported (every file refused, see reasons);
    Luigi's retcodes when a task failed. Nothing importable starts no dbt build.
    """
    import json
    import tempfile

    from pipeline.ingest.finding import find_export_files
    from pipeline.summary import (
        NOTHING_IMPORTED_EXIT,
        import_exit_code,
        import_report,
        print_import_report,
        print_summary,
    )

    settings_mod.get_settings().account(account)  # unknown account: one line, before any work
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"error: no such file or folder: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    # A device or a pipe has no end (/dev/zero was read until killed) or blocks: refused.
    special = [p for p in paths if not (p.is_file() or p.is_dir())]
    if special:
        print(
            f"error: not a file or folder (a device, pipe or socket): "
            f"{', '.join(map(str, special))}",
            file=sys.stderr,
        )
        return 2
    files = find_export_files(paths)
    if not files:
        print("error: no Spotify streaming-history files found in the given paths", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="music-tracker-import-") as scratch:
        facts_file = Path(scratch) / "facts.json"
        code = _stage(
            [f.resolve() for f in files],
            account=account,
            local_scheduler=local_scheduler,
            facts=facts_file,
        )
        try:
            facts = json.loads(facts_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            facts = {"before": None, "known": [], "nothing": False}
    before, known, ids = facts["before"], set(facts["known"]), facts.get("ids", {})
    if code == 0 and facts["nothing"]:
        reports = import_report(files, account, before, known, ids)
        print_import_report(reports)
        print(
            "\nerror: nothing was imported: no file held a play (reasons above); "
            "the warehouse was not rebuilt",
            file=sys.stderr,
        )
        return import_exit_code(reports) or NOTHING_IMPORTED_EXIT
    if code == 0:
        code = _publish(local_scheduler)
    reports = import_report(files, account, before, known, ids)
    print_import_report(reports)
    if code == 0:
        print_summary()
    return code or import_exit_code(reports)  # an archive without an export exits non-zero


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the whole pipeline on the bundled sample, offline, into its own data folder."""
    settings = settings_mod.get_settings()
    sample = settings.paths.sample_dir
    if not sample.exists():
        print(f"error: bundled sample not found at {sample}", file=sys.stderr)
        return 2
    print(f"Music Tracker demo: importing the bundled sample from {sample}")
    print(f"(its own lake: {settings.paths.data_dir}; your real data is untouched)\n")
    return import_paths([sample], settings.default_account)


def cmd_import(args: argparse.Namespace) -> int:
    account = args.account or settings_mod.get_settings().default_account
    return import_paths([Path(p) for p in args.paths], account)


def cmd_build(args: argparse.Namespace) -> int:
    from pipeline.runner import run_tasks
    from pipeline.summary import print_summary
    from pipeline.tasks import DailyPipeline

    date = args.date or _today()
    code = run_tasks([DailyPipeline(date=date)])
    if code == 0:
        print_summary()
    return code


def cmd_rebuild(args: argparse.Namespace) -> int:
    """Recreate staged/, the warehouse and reporting/ from raw/ alone."""
    from pipeline.summary import print_summary

    code = _stage(rebuild=True)
    if code == 0:
        from pipeline.tasks.warehouse import whole_suite

        with whole_suite():  # every model, period and test
            code = _publish()
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
    "pipeline.commands.rerun",
]


def _day(text: str) -> dt.date:
    """``--date``: an ISO day no later than tomorrow (UTC), else argparse's usage error."""
    from pipeline.transform.slots import future_day_problem

    try:
        day = dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)") from exc
    problem = future_day_problem(day, dt.datetime.now(dt.UTC))
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return day


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="music-tracker",
        description="Music Tracker: your household's Spotify listening as a DuckDB star schema.",
    )
    parser.add_argument(
        "--data-dir", help="data lake folder for this command (default: paths.data_dir)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="run everything on the bundled sample (offline)")
    demo.set_defaults(func=cmd_demo, demo=True, writes_lake=True)

    imp = sub.add_parser("import", help="import Spotify export files, folders or the .zip")
    imp.add_argument("paths", nargs="+", help="Streaming_History_*.json, endsong_*.json, ...")
    imp.add_argument("--account", help="listener the files belong to (default_account)")
    imp.set_defaults(func=cmd_import, writes_lake=True)

    build = sub.add_parser("build", help="run the daily pipeline (stage, dbt build, publish)")
    build.add_argument("--date", type=_day, help="UTC day (default today)")
    build.set_defaults(func=cmd_build, writes_lake=True)

    rebuild = sub.add_parser("rebuild", help="rebuild staged data and warehouse from raw/")
    rebuild.set_defaults(func=cmd_rebuild, writes_lake=True)

    # Internal: the ingest half of import/rebuild in its own interpreter (pipeline.ops.
    # stage_child); the parent holds the lake lock, so this one does not take it.
    stage = sub.add_parser("_stage")
    stage.add_argument("paths", nargs="*")
    stage.add_argument("--account")
    stage.add_argument("--rebuild", action="store_true")
    stage.add_argument("--central", action="store_true")
    stage.add_argument("--facts", help="write the import summary's before/after facts here")
    stage.set_defaults(func=cmd_stage)

    # Internal: dbt's saved parse made ahead of any build (the Dockerfile runs it).
    sub.add_parser("_parse").set_defaults(func=cmd_parse)

    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


@interruptible
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging()
    data_dir: Path | None = None
    try:
        # The command line is a settings layer above the environment (load_settings'
        # overrides), never written into os.environ; children get it via child_environment().
        values: dict[str, str] = {}
        defaults: dict[str, str] = {}
        if args.data_dir:
            values["paths.data_dir"] = str(Path(args.data_dir).resolve())
        settings = settings_mod.use_overrides(settings_mod.Overrides(values))
        if getattr(args, "demo", False):
            # The demo is offline: no network enrichment (issue 4), unless the environment
            # asks for it.
            defaults["enrichment.enabled"] = "false"
            if not args.data_dir:
                values["paths.data_dir"] = str(settings.paths.demo_data_dir)
            settings_mod.use_overrides(settings_mod.Overrides(values, defaults))
        settings_mod.validate_sections()  # every setting type-checked before any work
        data_dir = settings_mod.get_settings().paths.data_dir
        if getattr(args, "needs_lake", False) and not data_dir.is_dir():
            # Checked before logging is set up: the log file would create the folder.
            what = "is a file, not a folder" if data_dir.exists() else "does not exist"
            print(
                f"error: data folder {data_dir} {what} (check --data-dir or "
                "paths.data_dir; `music-tracker import` or `demo` creates a lake)",
                file=sys.stderr,
            )
            return 2
        configure_from_settings()
        freeze_survivors()  # this process ends with its command (see io.duck)
    except settings_mod.SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the log folder: a file in the lake's place, a read-only mount
        print(_unusable_lake(data_dir, exc), file=sys.stderr)
        return 2
    try:
        if getattr(args, "account", None):
            settings_mod.get_settings().account(args.account)  # before waiting for the lock
        with contextlib.ExitStack() as stack:
            if getattr(args, "writes_lake", False):
                try:
                    stack.enter_context(lake_writer(args.command))
                except OSError as exc:  # the lock file cannot be made
                    print(_unusable_lake(data_dir, exc), file=sys.stderr)
                    return 2
            return int(args.func(args))
    except settings_mod.SettingsError as exc:  # e.g. an account not in config
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _unusable_lake(data_dir: Path | None, exc: OSError) -> str:
    """One line for a data folder the command cannot write in (instead of a traceback)."""
    where = f" ({exc.filename})" if exc.filename else ""
    return (
        f"error: cannot use data folder {data_dir}: {exc.strerror or exc}{where} "
        "(check --data-dir or paths.data_dir, and that this user may write there)"
    )


if __name__ == "__main__":
    sys.exit(main())
