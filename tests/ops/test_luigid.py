"""The cron wrapper against a real luigid: tasks DONE in its API and recorded in its history."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_luigi, utc_days_since
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


#: When this module's `cron poll` started: the days it may have dated its run by.
STARTED: dict[str, dt.datetime] = {}


@pytest.fixture(scope="module")
def poll_run(lake_with_plays: Path, luigid: Luigid):
    env = cli_env(lake_with_plays, MUSIC_TRACKER__SCHEDULER__URL=luigid.url)
    STARTED["poll"] = dt.datetime.now(dt.UTC)
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
    days = {day.isoformat() for day in utc_days_since(STARTED["poll"])}
    assert {"DailyPipeline", "DbtBuild", "PublishReporting", "StagePlays"} <= families
    assert any(
        t.startswith("DailyPipeline") and info["params"].get("date") in days
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
    started = dt.datetime.now(dt.UTC)
    result = run_cli(["cron", "daily"], env)
    assert result.returncode == 0, result.stderr[-3000:]
    today = min(utc_days_since(started))  # the day the run took as today
    for back in range(3):
        day = today - dt.timedelta(days=back)
        assert (lake_with_plays / f"staged/plays/v1/date={day}/part-0.parquet").exists()
    done = luigid.api("task_list", {"status": "DONE", "upstream_status": "", "search": None})
    assert any(t.startswith("RangeDaily") for t in done)
    print(f"\nluigid peak RSS: {luigid.peak_rss_kb() / 1024:.0f} MB")


HL105 = Path(__file__).parents[1] / "fixtures/exports/hl105_StreamingHistory_music_0_first60.json"
#: A secret-looking value, in the environment and in the export's folder name (so in log lines).
SECRET = "sk-live-4f9a8b7c6d5e"


def fct_plays(lake: Path) -> int:
    """Rows of the warehouse's fct_plays (read-only; the writing process has exited)."""
    import duckdb

    con = duckdb.connect(str(lake / "warehouse" / "build.duckdb"), read_only=True)
    try:
        row = con.execute("select count(*) from marts.fct_plays").fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0])


@pytest.fixture(scope="module")
def import_on_luigid(tmp_path_factory: pytest.TempPathFactory, luigid: Luigid):
    """`music-tracker import` of one export into a fresh lake while luigid is up."""
    lake = tmp_path_factory.mktemp("import_luigid") / "data"
    lake.mkdir()
    result = run_cli(
        ["import", str(HL105)], cli_env(lake, MUSIC_TRACKER__SCHEDULER__URL=luigid.url)
    )
    return lake, result


def test_import_runs_on_luigid_and_its_tasks_are_listed(import_on_luigid, luigid: Luigid) -> None:
    """An interactive import says it uses luigid, and luigid's task list holds its tasks."""
    _, result = import_on_luigid
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count(f"Luigi: running on luigid at {luigid.url}") == 1
    done = luigid.api("task_list", {"status": "DONE", "upstream_status": "", "search": None})
    imports = [info for t, info in done.items() if t.startswith("ImportExports")]
    assert any(str(HL105.resolve()) in json.dumps(info["params"]) for info in imports)
    families = {task_id.split("_")[0] for task_id in done}
    assert {"StageAllPlays", "DbtBuild", "PublishReporting", "ExternalExportFile"} <= families


def luigi_cli(args: list[str], env: dict[str, str]):
    """`luigi --module pipeline.tasks ARGS` as the README writes it (uv run's luigi)."""
    import subprocess
    import sys

    from tests.ops.conftest import REPO

    binary = Path(sys.executable).with_name("luigi")
    return subprocess.run(
        [str(binary), "--module", "pipeline.tasks", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def readme_sequence(tmp_path_factory: pytest.TempPathFactory):
    """The README's Luigi commands: ImportExport, then DailyPipeline for one of its days."""
    root = tmp_path_factory.mktemp("readme_luigi")
    lake = root / "data"
    lake.mkdir()
    folder = root / SECRET
    folder.mkdir()
    export = folder / HL105.name
    export.write_bytes(HL105.read_bytes())
    # Luigi refuses a command line that another process runs at this moment ("Pid(s) {...}
    # already running", exit 10), its pid files in $TMPDIR/luigi: xdist may make this module
    # fixture on two workers at once, each a household of its own, so each gets its own.
    (root / "tmp").mkdir()
    env = cli_env(lake, MUSIC_TRACKER__SPOTIFY__CLIENT_SECRET=SECRET, TMPDIR=str(root / "tmp"))
    first = luigi_cli(["ImportExport", "--file", str(export), "--local-scheduler"], env)
    second = luigi_cli(["DailyPipeline", "--date", "2023-01-28", "--local-scheduler"], env)
    return lake, first, second


def test_readme_luigi_sequence_gives_the_import_warehouse(readme_sequence, import_on_luigid):
    """ImportExport then DailyPipeline --date D holds every imported play, as `import` does."""
    lake, first, second = readme_sequence
    assert first.returncode == 0, first.stderr[-3000:]
    assert second.returncode == 0, second.stderr[-3000:]
    imported = fct_plays(import_on_luigid[0])
    assert imported > 19  # more than the plays of 2023-01-28 alone
    assert fct_plays(lake) == imported


def test_luigi_cli_runs_log_to_the_lake_redacted(readme_sequence) -> None:
    """`luigi --module pipeline.tasks` writes logs/pipeline.log, with secrets masked."""
    lake, first, second = readme_sequence
    log = (lake / "logs" / "pipeline.log").read_text()
    lines = [json.loads(line) for line in log.splitlines()]
    assert any(line.get("task") == "DbtBuild" for line in lines)
    assert any("ImportExport(file=" in line["msg"] and "***" in line["msg"] for line in lines)
    for text in (log, first.stdout, first.stderr, second.stdout, second.stderr):
        assert SECRET not in text
    assert "Luigi Execution Summary" in first.stderr + first.stdout


def test_luigi_cli_missing_export_exits_missing_data(tmp_path: Path) -> None:
    """`ImportExport --file <missing>` exits 20 and names the missing file."""
    lake = tmp_path / "data"
    lake.mkdir()
    gone = tmp_path / "Streaming_History_Audio_gone.json"
    result = luigi_cli(["ImportExport", "--file", str(gone), "--local-scheduler"], cli_env(lake))
    assert result.returncode == 20
    assert f"ExternalExportFile(file={gone})" in result.stdout + result.stderr
