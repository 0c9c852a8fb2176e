"""Run the pipeline and SIGKILL it at a chosen point: the fault injector of tests/ and bench/.

    python -m tests.faults.killer --point replace --at 7 -- --data-dir D import FILES...
    python -m tests.faults.killer --point none --stage-only -- --data-dir D import FILES...

Points (the ``--at``-th occurrence, 1-based, kills the process with SIGKILL, no cleanup):

* ``parse``: while parsing an export file (during the JSON import);
* ``write``: in the middle of writing a Parquet file (the temp file is left half written);
* ``replace``: just before a finished temp file is renamed into place;
* ``after-replace``: just after a rename (the next file never starts);
* ``dbt``: while the dbt subprocess runs (both killed, like a container stop);
* ``publish``: before the N-th part of a new reporting generation is exported;
* ``enrich-call``: just after the N-th enrichment call (Spotify catalogue, MusicBrainz or
  Nominatim) got its answer, before the run records it (the call is spent, the answer lost);
* ``none``: no kill (the reference run).

``--stage-only`` runs the import and staging tasks without dbt (fast enough for pytest).
``--enrich SERVICE --date D --cassette C`` runs one enrichment task (``spotify_catalogue``,
``musicbrainz`` or ``nominatim``) for day D with HTTP replayed from cassette C
(``tests/faults/http_faults.py``); the rate limits come from the environment's settings.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

_count = 0
#: Set in the import's child (``--child``): a kill takes its parent first, as a container stop.
_kill_parent = False


def _tick(point: str, wanted: str, at: int) -> None:
    global _count
    if point != wanted:
        return
    _count += 1
    if _count == at:
        if _kill_parent:
            os.kill(os.getppid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)


def install(point: str, at: int, child: bool = False) -> None:
    """Patch the pipeline's write/parse seams so the ``at``-th ``point`` kills the process.

    ``music-tracker import`` parses and stages in a child interpreter (``ops/stage_child``):
    the child is started under this killer too, with the same point (counted in each process),
    so a kill can land while parsing or staging; there it kills the parent first (``child``).
    """
    global _kill_parent
    _kill_parent = child
    import pyarrow.parquet as pq

    import pipeline.ingest.exports as imports
    import pipeline.io.atomic as atomic
    import pipeline.reporting as reporting
    import pipeline.warehouse.run as warehouse

    real_replace = os.replace
    real_write = pq.write_table
    real_parse = imports.parse_export_file
    real_run_dbt = warehouse.run_dbt

    class _Os:
        def __getattr__(self, name: str) -> Any:
            return getattr(os, name)

        @staticmethod
        def replace(src: Any, dst: Any) -> None:
            _tick("replace", point, at)
            real_replace(src, dst)
            _tick("after-replace", point, at)

    def write_table(table: Any, where: Any, *args: Any, **kwargs: Any) -> None:
        real_write(table, where, *args, **kwargs)
        if point == "write" and _count + 1 == at and isinstance(where, str | Path):
            size = Path(where).stat().st_size
            with open(where, "r+b") as handle:
                handle.truncate(size // 2)
        _tick("write", point, at)

    def parse(*args: Any, **kwargs: Any) -> Any:
        _tick("parse", point, at)
        return real_parse(*args, **kwargs)

    def run_dbt(*args: Any, **kwargs: Any) -> Any:
        if point == "dbt":
            # Let dbt get going, then kill the whole group as a container stop would.
            delay = 0.5 + (at % 10) * 0.6

            def kill_all() -> None:
                time.sleep(delay)
                os.killpg(os.getpgid(0), signal.SIGKILL)

            threading.Thread(target=kill_all, daemon=True).start()
        return real_run_dbt(*args, **kwargs)

    if not child:
        import pipeline.ops.stage_child as stage_child

        real_command = stage_child.stage_command

        def stage_command(*args: Any, **kwargs: Any) -> list[str]:
            python, _, _, *rest = real_command(*args, **kwargs)  # python -m pipeline.cli ...
            killer = ["-m", "tests.faults.killer", "--point", point, "--at", str(at), "--child"]
            return [python, *killer, "--", *rest]

        stage_child.stage_command = stage_command  # type: ignore[assignment]
    atomic.os = _Os()  # type: ignore[assignment]
    pq.write_table = write_table
    imports.parse_export_file = parse
    warehouse.run_dbt = run_dbt
    if point == "enrich-call":
        from pipeline.clients import geocoder, http, musicbrainz

        def after_each_call(cls: Any, name: str) -> None:
            real = getattr(cls, name)

            def call(self: Any, *args: Any, **kwargs: Any) -> Any:
                try:
                    return real(self, *args, **kwargs)
                finally:
                    _tick("enrich-call", point, at)

            setattr(cls, name, call)

        after_each_call(http.HttpClient, "request")  # the Spotify catalogue
        after_each_call(musicbrainz.MusicBrainzClient, "_call")
        after_each_call(geocoder.Geocoder, "_geocode_once")
    if point == "publish":
        # Kill inside the export loop of a new generation, before its N-th part.
        real_write_part = reporting._write_part

        def write_part(*args: Any, **kwargs: Any) -> Any:
            _tick("publish", point, at)
            return real_write_part(*args, **kwargs)

        reporting._write_part = write_part


def stage_only(cli_args: list[str]) -> int:
    """``--data-dir D import FILES``, but only the import and staging tasks (no dbt)."""
    from pipeline import settings as settings_mod
    from pipeline.ingest.finding import find_export_files
    from pipeline.runner import run_tasks
    from pipeline.tasks import ImportExports, StageAllPlays

    data_dir, files = cli_args[1], cli_args[3:]
    os.environ["MUSIC_TRACKER__PATHS__DATA_DIR"] = str(Path(data_dir).resolve())
    settings_mod.reload_settings()
    account = settings_mod.get_settings().default_account
    paths = find_export_files([Path(f) for f in files])
    # As `music-tracker import` does: one batch task, files parsed on parallel threads.
    files_ = tuple(str(p.resolve()) for p in paths)
    code = run_tasks([ImportExports(files=files_, account=account)])
    return code or run_tasks([StageAllPlays()])


ENRICH_TASKS = {
    "spotify_catalogue": "EnrichCatalogue",
    "musicbrainz": "EnrichArtists",
    "nominatim": "GeocodeOrigins",
}


def enrich_only(cli_args: list[str], service: str, day: str, cassette: str) -> int:
    """``--data-dir D``: run one enrichment task for ``day`` against ``cassette``."""
    import datetime as dt

    import pipeline.tasks as tasks
    from pipeline import settings as settings_mod
    from pipeline.runner import run_tasks
    from tests.faults.http_faults import faulty_services

    os.environ["MUSIC_TRACKER__PATHS__DATA_DIR"] = str(Path(cli_args[1]).resolve())
    settings_mod.reload_settings()
    task = getattr(tasks, ENRICH_TASKS[service])(date=dt.date.fromisoformat(day))
    with faulty_services(Path(cassette)):
        return run_tasks([task])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--point", default="none")
    parser.add_argument("--at", type=int, default=1)
    parser.add_argument("--stage-only", action="store_true")
    parser.add_argument("--child", action="store_true", help="the import's child (install)")
    parser.add_argument("--enrich", choices=sorted(ENRICH_TASKS))
    parser.add_argument("--date")
    parser.add_argument("--cassette")
    parser.add_argument("cli", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cli_args = [a for a in args.cli if a != "--"]
    if args.point == "dbt" and not args.child:  # the child leads a session of its own
        os.setpgid(0, 0)  # our own group, so the kill takes dbt with us and nothing else
    if args.point != "none":
        install(args.point, args.at, args.child)
    if args.stage_only:
        return stage_only(cli_args)
    if args.enrich:
        return enrich_only(cli_args, args.enrich, args.date, args.cassette)
    from pipeline.cli import main as cli_main

    return cli_main(cli_args)


if __name__ == "__main__":
    sys.exit(main())
