"""dbt started ahead of its command: used by the build, harmless meanwhile, never left behind."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import luigi
import pytest

from pipeline import settings
from pipeline.paths import lake
from pipeline.warehouse import warm
from pipeline.warehouse.run import dbt_target_dir, run_dbt, warm_up

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _no_child_left() -> Iterator[None]:
    yield
    warm.discard()


def _start_and_wait() -> subprocess.Popen[str]:
    """``warm_up``'s child, once it has parsed the project and waits for its command."""
    started = time.time()
    warm_up(lake())
    child = warm._current
    assert child is not None
    parsed = dbt_target_dir() / "perf_info.json"  # written by every parse (the manifest is not)
    deadline = time.monotonic() + 120
    while not (parsed.exists() and parsed.stat().st_mtime >= started):
        assert child.proc.poll() is None, child.result.stdout
        assert time.monotonic() < deadline, "the child never finished parsing"
        time.sleep(0.05)
    return child.proc


def _gone(proc: subprocess.Popen[str]) -> bool:
    try:
        os.kill(proc.pid, 0)
    except ProcessLookupError:
        return True
    return proc.poll() is not None


def test_the_build_uses_the_child_started_ahead_which_never_held_the_warehouse(
    data_dir: Path,
) -> None:
    """While dbt waits for its command, the pipeline can open the warehouse read-write (the
    enrichment and the build's preparation do); the command then runs in that same child."""
    proc = _start_and_wait()
    assert warm.waiting()
    lake().warehouse_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(lake().warehouse)) as con:  # fails if another process holds it
        con.execute("create table probe as select 1 as x")
    result = run_dbt(lake(), ["ls", "--select", "fct_plays", "--output", "name"])
    assert result.ok, result.summary()
    assert "fct_plays" in result.lines
    assert proc.returncode == 0  # it ran the command itself; a replaced child is killed
    assert not warm.waiting()


def test_dbt_runs_with_no_process_of_its_own_beside_it(data_dir: Path) -> None:
    """dbt's locks would start multiprocessing's resource tracker, a third interpreter beside
    every build in the 400 MB container; the child gives them a context that needs none."""
    from pipeline.io.procs import process_table

    proc = _start_and_wait()
    assert [p for p in process_table() if p.ppid == proc.pid] == []
    result = run_dbt(lake(), ["ls", "--select", "fct_plays", "--output", "name"])
    assert result.ok, result.summary()


def test_a_child_started_for_other_settings_is_stopped_not_used(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dbt reads its settings at parse time: a change since (here DuckDB's memory limit) gets
    a fresh dbt, and the stale one is stopped."""
    stale = _start_and_wait()
    monkeypatch.setenv("MUSIC_TRACKER__DUCKDB__MEMORY_LIMIT", "200MB")
    settings.reload_settings()
    result = run_dbt(lake(), ["ls", "--select", "fct_plays", "--output", "name"])
    assert result.ok, result.summary()
    assert stale.returncode == -signal.SIGTERM


def test_a_child_killed_while_waiting_is_replaced_and_said(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The kernel may kill the waiting child (memory): the build starts dbt again, says so
    in the log, and succeeds."""
    dead = _start_and_wait()
    os.kill(dead.pid, signal.SIGKILL)
    dead.wait()
    with caplog.at_level(logging.WARNING, logger="pipeline.warehouse.warm"):
        result = run_dbt(lake(), ["ls", "--select", "fct_plays", "--output", "name"])
    assert result.ok, result.summary()
    assert "dbt started ahead ended before its command (exit -9)" in caplog.text


class _Broken(luigi.Task):
    """An input of the build that fails."""

    def complete(self) -> bool:
        return False

    def run(self) -> None:
        raise RuntimeError("input failed")


def test_a_build_whose_input_fails_leaves_no_dbt_behind(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Luigi schedules the build, so dbt starts ahead; an input then fails and the build never
    runs: the run's end stops that dbt (nothing waits on stdin, nothing holds memory)."""
    from pipeline.runner import run_luigi
    from pipeline.tasks.warehouse import DbtBuild

    class _BuildAfterBrokenInput(DbtBuild):
        def requires(self) -> list[luigi.Task]:
            return [_Broken()]

    started: list[subprocess.Popen[str]] = []
    real_start = warm.start

    def start(*args: object, **kwargs: object) -> None:
        real_start(*args, **kwargs)  # type: ignore[arg-type]
        assert warm._current is not None
        started.append(warm._current.proc)

    monkeypatch.setattr(warm, "start", start)
    outcome = run_luigi([_BuildAfterBrokenInput(date=dt.date.today())])
    assert outcome.code != 0
    assert started, "the scheduled build did not start dbt ahead"
    assert all(_gone(proc) for proc in started)
    assert not warm.waiting()


@pytest.mark.parametrize("how", ["forking worker", "plain luigi"])
def test_no_dbt_is_started_ahead_where_nobody_could_use_or_stop_it(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """A worker that forks a process per task (``scheduler.workers`` > 1) runs the build where a
    dbt its parent started cannot be used, and a plain ``luigi`` command has nobody to stop an
    unused one: neither starts dbt ahead."""
    from pipeline.runner import run_luigi
    from pipeline.tasks.warehouse import DbtBuild

    class _BuildAfterBrokenInput(DbtBuild):
        def requires(self) -> list[luigi.Task]:
            return [_Broken()]

    started: list[object] = []
    monkeypatch.setattr(warm, "start", lambda *args, **kwargs: started.append(args))
    task = _BuildAfterBrokenInput(date=dt.date.today())
    if how == "forking worker":
        run_luigi([task], workers=2)
    else:
        luigi.build([task], local_scheduler=True, log_level="WARNING")
    assert started == []
