"""The cron wrapper for real: lock, luigid fallback, exit codes, notifications, serve loop."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.ops.lock import exclusive
from pipeline.ops.schedule import crontab, next_run
from pipeline.settings import CronSettings
from tests.conftest import run_as_subreaper, run_luigi
from tests.ops.conftest import REPO, cli_env, run_cli

EXPORT = Path(__file__).parents[1] / "fixtures/exports/candidlyred_endsong_first24.json"


def _import(data_dir: Path) -> None:
    from pipeline.tasks import ImportExport

    assert run_luigi([ImportExport(file=str(EXPORT), account="me")])


def test_second_run_exits_cleanly_while_the_lock_is_held(data_dir: Path) -> None:
    """A run that finds another one going exits 0 and says who holds the lock."""
    holder = {"job": "daily", "run_id": "20260101T000000Z-daily-abcd", "pid": os.getpid()}
    with exclusive(data_dir / "state/locks/cron.lock", holder):
        result = run_cli(["cron", "poll"], cli_env(data_dir))
    assert result.returncode == 0
    assert "another run is still going" in result.stdout
    assert "20260101T000000Z-daily-abcd" in result.stdout
    assert not (data_dir / "staged/plays").exists()  # it did not run anything


def test_an_import_waits_for_the_run_holding_the_lake(data_dir: Path) -> None:
    """`music-tracker import` started during a cron run waits for it, then does its work."""
    import time

    from tests.ops.conftest import REPO

    holder = {"job": "daily", "run_id": "20260101T000000Z-daily-abcd", "pid": os.getpid()}
    with exclusive(data_dir / "state/locks/cron.lock", holder):
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "import", str(EXPORT)],
            env=cli_env(data_dir),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(3)
        assert proc.poll() is None  # still waiting
        assert not (data_dir / "staged/imports").exists()  # and has not touched the lake
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert "Waiting for another run on this lake to finish" in err
    assert "20260101T000000Z-daily-abcd" in err
    assert list((data_dir / "staged/plays/v1").glob("date=*/*.parquet"))


@pytest.mark.slow
def test_failed_task_exits_30_and_notifies_once(data_dir: Path, receiver, tmp_path: Path) -> None:
    """A failing dbt build exits with task_failed (30) and posts one webhook notification.

    `cron daily` builds whatever was polled; `cron poll` without credentials builds nothing.
    """
    _import(data_dir)
    broken = tmp_path / "no_dbt_project"
    broken.mkdir()
    env = cli_env(
        data_dir,
        MUSIC_TRACKER__PATHS__DBT_PROJECT_DIR=str(broken),
        MUSIC_TRACKER__NOTIFICATIONS__WEBHOOK_KIND="json",
        MUSIC_TRACKER__NOTIFICATIONS__WEBHOOK_URL=f"{receiver.url}/hook",
        MUSIC_TRACKER_WEBHOOK_TOKEN="s3cr3t-webhook-token",
        MUSIC_TRACKER__SPOTIFY__ENABLED="false",  # exports only: no token to be told about
    )
    first = run_cli(["cron", "daily"], env)
    assert first.returncode == 30, first.stderr[-2000:]
    assert f"paths.dbt_project_dir: {broken} holds no dbt_project.yml" in first.stderr
    run_id = first.stdout.split("[", 1)[1].split("]", 1)[0]
    bodies = receiver.json_bodies()
    assert [b["kind"] for b in bodies] == ["task_failed"]
    assert bodies[0]["title"].startswith("Music Tracker: DbtBuild failed")
    assert bodies[0]["run_id"] == run_id
    assert receiver.requests[0]["headers"]["Authorization"] == "Bearer s3cr3t-webhook-token"
    second = run_cli(["cron", "daily"], env)
    assert second.returncode == 30
    assert len(receiver.requests) == 1  # not repeated within notifications.repeat_hours
    log = (data_dir / "logs/pipeline.log").read_text()
    assert "s3cr3t-webhook-token" not in log


@pytest.mark.slow
def test_serve_polls_at_start_falling_back_when_luigid_is_down(data_dir: Path) -> None:
    """`cron serve` (the container command) polls at start; with luigid down the poll warns,
    uses the local scheduler, and succeeds (no token here: nothing polled, nothing built)."""
    result = run_cli(["cron", "serve", "--max-runs", "1"], cli_env(data_dir))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "cron poll [" in result.stdout and "(local scheduler" in result.stdout
    lines = [json.loads(line) for line in (data_dir / "logs/pipeline.log").read_text().splitlines()]
    warning = [line for line in lines if "falling back" in line["msg"]]
    assert warning and warning[0]["level"] == "WARNING" and warning[0]["run_id"]
    assert any("cron poll finished: exit 0" in line["msg"] for line in lines)
    assert any("no new plays polled" in line["msg"] for line in lines)
    assert not (data_dir / "warehouse/build.duckdb").exists()


@pytest.mark.parametrize(
    ("now", "job", "expected"),
    [
        ("2026-03-01T10:05:00", "poll", "2026-03-01T10:30:00"),
        ("2026-03-01T10:30:00", "poll", "2026-03-01T11:00:00"),
        ("2026-03-01T23:45:00", "poll", "2026-03-02T00:00:00"),
        ("2026-03-01T03:00:00", "daily", "2026-03-01T04:30:00"),
        ("2026-03-01T04:30:00", "daily", "2026-03-02T04:30:00"),
    ],
)
def test_next_run_follows_the_configured_schedule(now: str, job: str, expected: str) -> None:
    """Polls every 30 minutes on the half hour; the daily run once at 04:30 UTC."""
    at = dt.datetime.fromisoformat(now).replace(tzinfo=dt.UTC)
    assert next_run(job, at, CronSettings()) == dt.datetime.fromisoformat(expected).replace(
        tzinfo=dt.UTC
    )


def test_crontab_prints_the_schedule(data_dir: Path) -> None:
    """`cron crontab` prints the configured schedule as crontab lines."""
    result = run_cli(
        ["cron", "crontab"], cli_env(data_dir, MUSIC_TRACKER__CRON__POLL_EVERY_MINUTES="15")
    )
    assert f"*/15 * * * * cd {REPO} && " in result.stdout
    assert f"--data-dir {data_dir} cron poll >> " in result.stdout
    assert f"30 4 * * * cd {REPO} && " in result.stdout and " cron daily >> " in result.stdout
    assert crontab(CronSettings(poll_every_minutes=60)).splitlines()[1].startswith("0 */1 ")


def test_bad_schedule_is_a_configuration_error(data_dir: Path) -> None:
    """A poll interval that does not divide the day stops the command with the setting named."""
    result = run_cli(
        ["cron", "poll"], cli_env(data_dir, MUSIC_TRACKER__CRON__POLL_EVERY_MINUTES="7")
    )
    assert result.returncode != 0
    assert "cron.poll_every_minutes" in result.stderr


def test_scheduler_command_starts_luigid_with_state_under_data(data_dir: Path) -> None:
    """`music-tracker scheduler` (luigid's container command) puts state and logs in data/."""
    result = run_cli(["scheduler", "--dry-run"], cli_env(data_dir))
    assert result.returncode == 0
    assert f"--state-path {data_dir}/luigi/luigi-state.pickle" in result.stdout
    assert f"--logdir {data_dir}/logs/luigid" in result.stdout
    assert (data_dir / "logs/luigid").is_dir()


def test_serve_reaps_the_orphans_a_job_leaves() -> None:
    """`cron serve` is PID 1 in the container: what a job orphans (dbt's helper outlives dbt)
    becomes its child, and it reaps it between jobs instead of keeping a zombie per build.
    Run as a subreaper, which orphans are handed to as they are to PID 1."""
    out = run_as_subreaper(
        "from pipeline.commands.cron import reap_orphans\n"
        "subprocess.run([sys.executable, '-c', ORPHANING], check=True)  # a job orphaning\n"
        "def zombies():  # this process's children that exited and are not reaped\n"
        "    return sum(1 for p in process_table() if p.state == 'Z' and p.ppid == os.getpid())\n"
        "wait_for(zombies)  # the orphan exits, unreaped\n"
        "print(zombies(), reap_orphans(), zombies(), reap_orphans())\n"
    )
    assert out.split() == ["1", "1", "0", "0"]
