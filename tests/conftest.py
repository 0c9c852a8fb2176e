"""Shared fixtures: every test gets its own data lake under tmp_path and fresh settings."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parent.parent

os.environ["MUSIC_TRACKER_ENV"] = "testing"
# Parallel workers (pytest -n): each its own dbt artifacts folder (manifest, run_results,
# partial parse), so two workers' builds never overwrite each other's.
WORKER_TARGET = "MUSIC_TRACKER__DBT__TARGET_PATH"
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault(
        WORKER_TARGET, str(REPO / "dbt_project" / f"target-{os.environ['PYTEST_XDIST_WORKER']}")
    )


def child_env(lake: Path, **extra: str) -> dict[str, str]:
    """Environment of a `music-tracker` subprocess on ``lake``: testing settings, ``extra``,
    and none of this process's ``MUSIC_TRACKER__`` overrides but the worker's dbt artifacts
    folder. Without it, two workers' subprocess builds wrote one ``dbt_project/target/`` and
    one read the other's half-written ``run_results.json``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MUSIC_TRACKER__") or k == WORKER_TARGET
    }
    env.update(MUSIC_TRACKER_ENV="testing", MUSIC_TRACKER__PATHS__DATA_DIR=str(lake))
    env.update(extra)
    return env


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh lake under tmp_path; settings re-read; Luigi's instance cache cleared."""
    import luigi.task_register

    from pipeline import settings

    lake_dir = tmp_path / "data"
    lake_dir.mkdir()
    monkeypatch.setenv("MUSIC_TRACKER_ENV", "testing")
    monkeypatch.setenv("MUSIC_TRACKER__PATHS__DATA_DIR", str(lake_dir))
    settings.reload_settings()
    luigi.task_register.Register.clear_instance_cache()
    yield lake_dir
    monkeypatch.undo()
    settings.reload_settings()
    luigi.task_register.Register.clear_instance_cache()


@pytest.fixture
def export_fixtures() -> Path:
    """The real Spotify export samples (copied from shared/samples into tests/fixtures)."""
    return FIXTURES / "exports"


def utc_days_since(start: dt.datetime) -> set[dt.date]:
    """The UTC days from ``start`` to now: a run that crossed midnight dated its work on
    either side, and a test must not fail for the hour the suite happened to run at."""
    day, days = start.astimezone(dt.UTC).date(), set()
    while day <= dt.datetime.now(dt.UTC).date():
        days.add(day)
        day += dt.timedelta(days=1)
    return days


def run_luigi(tasks: list) -> bool:
    """Build tasks with the local scheduler, as a user's `--local-scheduler` run would."""
    import luigi

    return bool(luigi.build(tasks, local_scheduler=True, workers=1, log_level="WARNING"))


@pytest.fixture(scope="session")
def metabase_duckdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Python of a venv holding the DuckDB the Metabase driver bundles (one per session);
    skips when uv is missing or cannot install it (``tests.metabase_duckdb``)."""
    from tests.metabase_duckdb import Unavailable, ensure_env

    try:
        return ensure_env(tmp_path_factory.mktemp("metabase-duckdb") / "venv")
    except Unavailable as exc:
        pytest.skip(str(exc))


def run_as_subreaper(body: str) -> str:
    """Run ``body`` in a Python child that, like a container's init, is handed what its
    children orphan (``PR_SET_CHILD_SUBREAPER``) and reaps nothing itself; its stdout.

    The prologue defines ``ORPHANING`` (code for a process that starts a child and exits at
    once, orphaning it) and ``wait_for(check)`` (poll until ``check()`` is true, up to 30 s),
    and imports ``os``, ``subprocess``, ``sys``, ``time`` and ``process_table``.
    """
    import subprocess
    import sys

    prologue = (
        "import ctypes, os, subprocess, sys, time\n"
        "ctypes.CDLL('libc.so.6').prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER\n"
        "from pipeline.io.procs import process_table\n"
        'ORPHANING = \'import subprocess, sys; subprocess.Popen([sys.executable, "-c", "0"])\'\n'
        "def wait_for(check):\n"
        "    deadline = time.monotonic() + 30\n"
        "    while not check() and time.monotonic() < deadline:\n"
        "        time.sleep(0.05)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", prologue + body],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout
