"""dbt as a watched child: progress per node, one-line out-of-memory errors, no orphans."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import cli, settings
from pipeline.warehouse import dbt_process
from tests.conftest import REPO, run_as_subreaper

SAMPLE = REPO / "data" / "sample"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False


def _script(tmp_path: Path, body: str) -> list[str]:
    """A stand-in for dbt: a Python script (the same process handling as the real one)."""
    path = tmp_path / "fake_dbt.py"
    path.write_text(body, encoding="utf-8")
    return [sys.executable, str(path)]


def test_the_oom_killer_is_named_in_one_line(tmp_path: Path) -> None:
    """A real OOM kill of "dbt" inside a 100 MB memory cgroup, as under Docker's mem_limit."""
    from bench import cgroup

    reason = cgroup.unavailable_reason()
    if reason:
        pytest.skip(reason)
    hog = tmp_path / "hog.py"
    hog.write_text("blocks = []\nwhile True:\n    blocks.append(bytearray(8 << 20))\n")
    probe = (
        "import json, os, sys\n"
        "from pipeline.warehouse import dbt_process\n"
        f"r = dbt_process.run_dbt_process([sys.executable, {str(hog)!r}], dict(os.environ), "
        f"{str(tmp_path)!r}, 60)\n"
        "print(json.dumps([r.returncode, r.out_of_memory]))\n"
    )
    group = cgroup.MemoryCgroup("oom-named", cgroup.parse_size("100M"))
    try:
        run = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=group.join,  # noqa: PLW1509 - the child joins the group before exec
        )
        kills = group.result().oom_kills
    finally:
        group.close()
    assert kills == 1
    assert json.loads(run.stdout.strip().splitlines()[-1]) == [-9, True]


def test_a_sigkill_from_elsewhere_is_not_called_memory(tmp_path: Path) -> None:
    if dbt_process.oom_kill_count() is None:
        pytest.skip("not inside a memory cgroup: a SIGKILL is reported as memory")
    cmd = _script(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    result = dbt_process.run_dbt_process(cmd, dict(os.environ), tmp_path, 30)
    assert result.returncode == -9
    assert not result.out_of_memory


def test_duckdb_out_of_memory_in_the_log_is_recognised(tmp_path: Path) -> None:
    line = {
        "info": {"name": "RunResultError", "level": "error", "msg": "Out of Memory Error: x"},
        "data": {},
    }
    cmd = _script(tmp_path, f"import sys\nprint({json.dumps(json.dumps(line))})\nsys.exit(1)\n")
    result = dbt_process.run_dbt_process(cmd, dict(os.environ), tmp_path, 30)
    assert result.returncode == 1 and result.out_of_memory
    assert result.summary() == "Out of Memory Error: x"
    message = dbt_process.oom_message("dbt build", "192MB")
    assert "\n" not in message
    assert "duckdb.memory_limit" in message and "mem_limit" in message


def test_the_failure_is_summarised_not_the_nodes_skipped_after_it(tmp_path: Path) -> None:
    """A first build that fails in one model skips dozens of nodes, each an error-level line
    of its own: the summary keeps the model's error (and DuckDB's words) and counts the skips."""
    failure = {
        "info": {
            "name": "RunResultError",
            "level": "error",
            "msg": "Runtime Error in model fct_plays\n  Out of Memory Error: failed to pin block",
        },
        "data": {},
    }
    skip = {
        "info": {
            "name": "LogSkipBecauseError",
            "level": "error",
            "msg": "SKIP relation marts.agg_year_recap due to ephemeral model status 'skipped'",
        },
        "data": {"index": 3, "total": 9},
    }
    lines = [json.dumps(failure)] + [json.dumps(skip)] * 12
    body = "import sys\n" + "".join(f"print({json.dumps(line)})\n" for line in lines)
    cmd = _script(tmp_path, body + "sys.exit(1)\n")
    result = dbt_process.run_dbt_process(cmd, dict(os.environ), tmp_path, 30)
    assert result.out_of_memory and result.skipped == 12
    assert result.summary(1) == (
        "Runtime Error in model fct_plays\n  Out of Memory Error: failed to pin block\n"
        "(12 nodes skipped: they use what failed)"
    )
    assert "SKIP relation" not in result.summary()


def test_a_timeout_stops_the_whole_group(tmp_path: Path) -> None:
    """dbt's own children (threads, helpers) go with it: nothing is left holding a lock."""
    pidfile = tmp_path / "grandchild.pid"
    cmd = _script(
        tmp_path,
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n",
    )
    started = time.monotonic()
    with pytest.raises(dbt_process.DbtTimeout):
        dbt_process.run_dbt_process(cmd, dict(os.environ), tmp_path, timeout_s=1.5)
    assert time.monotonic() - started < 15
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)
    assert not dbt_process._running


def test_progress_lines_become_node_counts(tmp_path: Path) -> None:
    """Each node's start and result move the count; a build that ends on a test reaches 100%."""
    events = [
        {
            "info": {"name": "LogStartLine", "msg": "1 of 2 START"},
            "data": {
                "index": 1,
                "total": 2,
                "node_info": {"node_name": "stg_a", "resource_type": "model"},
            },
        },
        {
            "info": {"name": "LogModelResult", "msg": "1 of 2 OK"},
            "data": {
                "index": 1,
                "total": 2,
                "node_info": {"node_name": "stg_a", "resource_type": "model"},
            },
        },
        {
            # dbt 1.11's own shape: a test's result says num_models where the rest say total.
            "info": {"name": "LogTestResult", "msg": "2 of 2 PASS"},
            "data": {
                "index": 2,
                "num_models": 2,
                "num_failures": 0,
                "status": "pass",
                "node_info": {"node_name": "t_b", "resource_type": "test"},
            },
        },
    ]
    seen: list[tuple[int, int, str]] = []
    result = dbt_process.DbtResult(returncode=0)
    dbt_process.read_events(
        iter(json.dumps(e) + "\n" for e in events), result, lambda *a: seen.append(a)
    )
    assert seen == [(0, 2, "model 1/2: stg_a"), (1, 2, "model 1/2: stg_a"), (2, 2, "test 2/2: t_b")]
    assert result.lines == ["1 of 2 START", "1 of 2 OK", "2 of 2 PASS"]


@pytest.mark.slow
def test_a_real_build_reports_every_node_to_luigi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """During `music-tracker import`, DbtBuild tells Luigi "model k/N: name" and a percentage."""
    from luigi.scheduler import Scheduler

    from pipeline.tasks.warehouse import DbtBuild

    lake_dir = tmp_path / "data"
    monkeypatch.setenv("MUSIC_TRACKER_ENV", "testing")
    monkeypatch.setenv("MUSIC_TRACKER__PATHS__DATA_DIR", str(lake_dir))
    settings.reload_settings()
    messages: list[str] = []
    percents: list[int] = []
    real_message = Scheduler.set_task_status_message
    real_percent = Scheduler.set_task_progress_percentage

    def message(self: Scheduler, task_id: str, status_message: str) -> None:
        if task_id.startswith(DbtBuild.get_task_family()):
            messages.append(status_message)
        real_message(self, task_id, status_message)

    def percent(self: Scheduler, task_id: str, progress_percentage: int) -> None:
        if task_id.startswith(DbtBuild.get_task_family()):
            percents.append(progress_percentage)
        real_percent(self, task_id, progress_percentage)

    # What the scheduler (and so the visualiser) receives from the task.
    monkeypatch.setattr(Scheduler, "set_task_status_message", message)
    monkeypatch.setattr(Scheduler, "set_task_progress_percentage", percent)
    try:
        assert cli.main(["--data-dir", str(lake_dir), "import", str(SAMPLE)]) == 0
    finally:
        monkeypatch.undo()
        settings.reload_settings()
    marker = next((lake_dir / "staged" / "dbt_runs").glob("date=*/run_results.json"))
    results = json.loads(marker.read_text())["results"]
    # Nodes dbt numbers "i/total"; the project's on-run-end hook is an operation it does not.
    nodes = len([r for r in results if not str(r.get("unique_id", "")).startswith("operation.")])
    progress = [m for m in messages if re.match(r"dbt build: \w+ \d+/\d+: \w+", m)]
    assert len(progress) >= nodes  # each node at least once (its start and its result)
    assert {int(m.split("/")[1].split(":")[0]) for m in progress} == {nodes}
    assert any(re.match(r"dbt build: model \d+/\d+: fct_plays$", m) for m in progress)
    assert max(percents) == 100 and min(percents) < 50
    assert len(set(percents)) > 10


def test_a_child_runs_whatever_its_parents_pid_and_stops_when_its_parent_is_gone() -> None:
    """A child of this process runs (even as a child of PID 1, as in `docker run`); a child
    whose expected parent is not its parent (that parent died before prctl) exits at once."""
    ok = subprocess.run(
        [sys.executable, "-c", "print('ran')"],
        capture_output=True,
        text=True,
        preexec_fn=dbt_process.die_with_parent(),  # noqa: PLW1509 - what the pipeline does
        timeout=30,
    )
    assert (ok.returncode, ok.stdout.strip()) == (0, "ran")
    orphan = subprocess.run(
        [sys.executable, "-c", "print('ran')"],
        capture_output=True,
        text=True,
        preexec_fn=dbt_process.die_with_parent(parent=1),  # noqa: PLW1509
        timeout=30,
    )
    assert (orphan.returncode, orphan.stdout) == (1, "")


def test_a_group_left_with_only_a_zombie_is_stopped_at_once() -> None:
    """dbt's helper (multiprocessing's resource tracker) ends as a zombie that the container's
    init may never reap: stopping dbt's group must not wait out its grace periods for it (it
    cost every build 1 s). Run as a subreaper, like a container's init that does not reap."""
    out = run_as_subreaper(
        "from pipeline.warehouse import dbt_process\n"
        "leader = subprocess.Popen([sys.executable, '-c', ORPHANING], start_new_session=True)\n"
        "leader.wait()\n"
        "def zombies():  # the leader's child, orphaned to this process, exited and unreaped\n"
        "    return [p for p in process_table() if p.state == 'Z' and p.pgrp == leader.pid]\n"
        "wait_for(zombies)\n"
        "found = zombies()\n"
        "started = time.monotonic()\n"
        "dbt_process.stop_group(leader.pid, grace_s=2.0)\n"
        "print(len(found), round(time.monotonic() - started, 3), "
        "dbt_process.group_alive(leader.pid))\n"
    )
    zombies, took, alive = out.split()
    assert int(zombies) == 1  # the case this is about
    assert float(took) < 0.5 and alive == "False"
