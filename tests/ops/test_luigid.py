"""The cron wrapper against a real luigid: tasks DONE in its API and recorded in its history."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_luigi
from tests.ops.conftest import Luigid, cli_env, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lake_with_plays(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake holding one imported export file (import only; dbt runs under luigid)."""
    import luigi.task_register

    from pipeline import settings
    from pipeline.tasks import ImportExport

    lake = tmp_path_factory.mktemp("luigid") / "data"
    lake.mkdir()
    mp = pytest.MonkeyPatch()
    mp.setenv("MUSIC_TRACKER__PATHS__DATA_DIR", str(lake))
    settings.reload_settings()
    luigi.task_register.Register.clear_instance_cache()
    export = (
        Path(__file__).parents[1] / "fixtures/exports/hl105_StreamingHistory_music_0_first60.json"
    )
    assert run_luigi([ImportExport(file=str(export), account="me")])
    mp.undo()
    settings.reload_settings()
    return lake


@pytest.fixture(scope="module")
def luigid(lake_with_plays: Path) -> Iterator[Luigid]:
    server = Luigid(lake_with_plays)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def poll_run(lake_with_plays: Path, luigid: Luigid):
    env = cli_env(lake_with_plays, MUSIC_TRACKER__SCHEDULER__URL=luigid.url)
    return run_cli(["cron", "poll"], env)


def test_poll_runs_on_luigid_and_exits_zero(poll_run) -> None:
    """`cron poll` runs the day's pipeline through luigid and exits 0."""
    assert poll_run.returncode == 0, poll_run.stderr[-3000:]
    assert "central scheduler" in poll_run.stdout
    assert "falling back" not in poll_run.stderr


def test_luigid_api_shows_tasks_done(poll_run, luigid: Luigid) -> None:
    """luigid's /api/task_list lists DailyPipeline, DbtBuild and PublishReporting as DONE."""
    done = luigid.api("task_list", {"status": "DONE", "upstream_status": "", "search": None})
    families = {task_id.split("_")[0] for task_id in done}
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert {"DailyPipeline", "DbtBuild", "PublishReporting", "StagePlays"} <= families
    assert any(
        t.startswith("DailyPipeline") and info["params"].get("date") == today
        for t, info in done.items()
    )


def test_luigid_history_records_the_run(poll_run, luigid: Luigid, lake_with_plays: Path) -> None:
    """The task history (SQLite under data/luigi) and its /history page hold the run."""
    db = lake_with_plays / "luigi" / "task-history.sqlite"
    with sqlite3.connect(db) as con:
        names = {row[0] for row in con.execute("select name from tasks")}
        events = {row[0] for row in con.execute("select event_name from task_events")}
    assert {"DailyPipeline", "DbtBuild", "PublishReporting"} <= names
    assert "DONE" in events
    page = luigid.get("/history")
    assert "DbtBuild" in page
    assert (lake_with_plays / "logs" / "luigid").is_dir()


def test_every_log_line_of_the_run_has_its_run_id(poll_run, lake_with_plays: Path) -> None:
    """The JSON log file holds the run's lines, each with the run id printed on stdout."""
    run_id = poll_run.stdout.split("[", 1)[1].split("]", 1)[0]
    lines = [
        json.loads(line)
        for line in (lake_with_plays / "logs" / "pipeline.log").read_text().splitlines()
    ]
    ours = [line for line in lines if line["run_id"] == run_id]
    assert any(line.get("task") == "DbtBuild" and line.get("rows") for line in ours)
    assert any("cron poll finished" in line["msg"] for line in ours)
    assert all(line["run_id"] == run_id for line in lines if line["ts"] >= ours[0]["ts"])


def test_daily_fills_the_window_with_rangedaily(poll_run, luigid: Luigid, lake_with_plays: Path):
    """`cron daily` fills the window with RangeDaily on luigid, then builds today once."""
    env = cli_env(
        lake_with_plays,
        MUSIC_TRACKER__SCHEDULER__URL=luigid.url,
        MUSIC_TRACKER__CRON__DAILY_WINDOW_DAYS="3",
    )
    result = run_cli(["cron", "daily"], env)
    assert result.returncode == 0, result.stderr[-3000:]
    today = dt.datetime.now(dt.UTC).date()
    for back in range(3):
        day = today - dt.timedelta(days=back)
        assert (lake_with_plays / f"staged/plays/v1/date={day}/part-0.parquet").exists()
    done = luigid.api("task_list", {"status": "DONE", "upstream_status": "", "search": None})
    assert any(t.startswith("RangeDaily") for t in done)
    print(f"\nluigid peak RSS: {luigid.peak_rss_kb() / 1024:.0f} MB")
