"""luigid down for the daily cron job (``cron serve``'s poll is covered in tests/ops)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.conftest import run_luigi, utc_days_since
from tests.faults.helpers import staged_plays_hash, unreadable_visible_files
from tests.ops.conftest import cli_env, run_cli

EXPORT = Path(__file__).parents[1] / "fixtures/exports/candidlyred_endsong_first24.json"


@pytest.mark.slow
def test_cron_daily_falls_back_to_the_local_scheduler_when_luigid_is_down(data_dir: Path) -> None:
    """`cron daily` with nobody on the scheduler port warns once, names the local scheduler,
    stages every imported day, builds and publishes, and exits 0."""
    from pipeline.paths import lake
    from pipeline.tasks import ImportExport

    assert run_luigi([ImportExport(file=str(EXPORT), account="me")])  # imported, not staged
    env = cli_env(data_dir)  # scheduler.url points at a free port: luigid is "down"
    started = dt.datetime.now(dt.UTC)
    result = run_cli(["cron", "daily"], env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "cron daily [" in result.stdout and "(local scheduler" in result.stdout
    lines = [json.loads(line) for line in (data_dir / "logs/pipeline.log").read_text().splitlines()]
    warnings = [line for line in lines if "falling back to the local scheduler" in line["msg"]]
    assert warnings and {w["level"] for w in warnings} == {"WARNING"}
    assert env["MUSIC_TRACKER__SCHEDULER__URL"] in warnings[0]["msg"]  # says which luigid
    assert all(w["run_id"] and "daily" in w["run_id"] for w in warnings)
    assert any(
        "cron daily finished: exit 0 on the local scheduler" in line["msg"] for line in lines
    )
    rows, _ = staged_plays_hash(data_dir)
    assert rows > 0  # the imported days were staged by the daily run
    assert any(
        (data_dir / f"staged/plays/v1/date={day}/part-0.parquet").exists()
        for day in utc_days_since(started)  # the run's today, were it to cross midnight
    )
    assert list(lake().reporting_mart_dir("fct_plays").glob("*.parquet"))
    assert unreadable_visible_files(data_dir) == []
