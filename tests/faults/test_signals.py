"""SIGTERM, SIGINT and SIGKILL of `music-tracker import` while dbt builds: no orphan, rerun works.

Each trial runs the real CLI on the bundled sample in a subprocess, waits until dbt is running
(a process whose command line is the project's dbt), signals the CLI's pid only (as `docker
stop` or `kill PID` would), then checks that dbt is gone, that the exit code and stderr say
what happened, that the immediate rerun exits 0, and that the published marts equal a clean
run's.
"""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from bench.proctree import descendants
from pipeline.paths import Lake
from pipeline.warehouse.warm import CHILD
from tests.conftest import REPO
from tests.faults.conftest import sample_cmd, sample_env
from tests.faults.helpers import warehouse_summary

pytestmark = pytest.mark.slow


def _marts(lake_dir: Path) -> dict[str, tuple]:
    """Every published mart's row count and an order-free content hash."""
    con = duckdb.connect()
    found = {}
    current = Lake(lake_dir).reporting_mart_dir("any").parent
    for mart in sorted(p for p in current.iterdir() if p.is_dir()):
        row = con.execute(
            # (hive_partitioning off: the generation=<key> folder is not part of the rows)
            "select count(*), coalesce(sum(hash(t::varchar)), 0)::varchar "
            "from read_parquet(?, hive_partitioning = false) t",
            [str(mart / "*.parquet")],
        ).fetchone()
        found[mart.name] = row
    return found


def _is_dbt(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except OSError:
        return False
    is_dbt = any(part.endswith(b"/dbt") for part in cmdline[:2]) or CHILD.encode() in cmdline
    return state != "Z" and is_dbt


def _wait_until_building(pid: int, timeout: float = 120) -> None:
    """dbt may be started ahead of its command (``warehouse.warm``): wait until it holds a
    DuckDB file, i.e. builds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fds = [os.readlink(f) for f in glob.glob(f"/proc/{pid}/fd/*")]
        except OSError:
            fds = []
        if any(fd.endswith(".duckdb") for fd in fds):
            return
        time.sleep(0.05)
    raise AssertionError("dbt never opened the warehouse")


def _wait_for_dbt(proc: subprocess.Popen, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the import ended before dbt started"
        for pid in descendants(proc.pid):
            if _is_dbt(pid):
                return pid
        time.sleep(0.05)
    raise AssertionError("dbt never started")


def _gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _is_dbt(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def clean_marts(clean_sample_lake: Path) -> dict[str, tuple]:
    return _marts(clean_sample_lake)


@pytest.mark.parametrize(
    ("sig", "code"),
    [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGKILL, -9)],
    ids=["SIGTERM", "SIGINT", "SIGKILL"],
)
def test_a_signal_during_dbt_leaves_no_orphan_and_the_rerun_works(
    tmp_path: Path,
    clean_marts: dict[str, tuple],
    clean_sample_lake: Path,
    sig: signal.Signals,
    code: int,
) -> None:
    lake_dir = tmp_path / "data"
    proc = subprocess.Popen(
        sample_cmd(lake_dir),
        env=sample_env(lake_dir),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    dbt_pid = _wait_for_dbt(proc)
    _wait_until_building(dbt_pid)
    time.sleep(0.5)  # dbt is building, holding the warehouse
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code
    assert _gone(dbt_pid), f"dbt (pid {dbt_pid}) outlived its parent"
    if sig != signal.SIGKILL:
        last = err.strip().splitlines()[-1]
        assert f"interrupted by {sig.name} during DbtBuild" in last
        assert "(dbt stopped)" in last
    rerun = subprocess.run(
        sample_cmd(lake_dir), env=sample_env(lake_dir), cwd=REPO, capture_output=True
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert _marts(lake_dir) == clean_marts
    assert warehouse_summary(lake_dir) == warehouse_summary(clean_sample_lake)
