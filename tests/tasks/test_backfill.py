"""Backfill: RangeDaily over DailyPipeline stages the days and runs dbt once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import luigi
import pytest

from tests.conftest import FIXTURES

pytestmark = pytest.mark.slow

#: Plays on 2022-09-02 .. 2022-09-07 (and on days before and after).
CANDIDLYRED = FIXTURES / "exports" / "candidlyred_endsong_first24.json"


def test_range_daily_over_three_days_builds_once(data_dir: Path) -> None:
    """Three days of RangeDaily --of DailyPipeline: one dbt build, every play published,
    the publish reported per mart; the same range again runs nothing."""
    from pipeline.runner import run_luigi
    from pipeline.tasks import DailyPipeline, ImportExport, RangeDaily

    assert run_luigi([ImportExport(file=str(CANDIDLYRED), account="me")]).code == 0
    start = dt.date(2022, 9, 3)
    today = dt.datetime.now(dt.UTC).date()

    def backfill() -> RangeDaily:
        return RangeDaily(
            of=DailyPipeline,
            start=start,
            stop=start + dt.timedelta(days=3),
            days_back=(today - start).days + 1,
        )

    started: list[str] = []
    progress: list[tuple[str, str]] = []

    def on_start(task: luigi.Task) -> None:
        started.append(task.get_task_family())

    def on_progress(task: luigi.Task, percent: int, message: str) -> None:
        progress.append((task.get_task_family(), message))

    luigi.Task.event_handler(luigi.Event.START)(on_start)
    luigi.Task.event_handler(luigi.Event.PROGRESS)(on_progress)
    try:
        assert run_luigi([backfill()]).code == 0
        first = list(started)
        luigi.task_register.Register.clear_instance_cache()
        assert run_luigi([backfill()]).code == 0
    finally:
        callbacks = luigi.Task._event_callbacks[luigi.Task]
        callbacks[luigi.Event.START].discard(on_start)
        callbacks[luigi.Event.PROGRESS].discard(on_progress)
    assert first.count("DailyPipeline") >= 3
    assert first.count("DbtBuild") == 1
    assert first.count("PublishReporting") == 1
    assert started[len(first) :].count("DbtBuild") == 0  # nothing left to do

    import duckdb

    con = duckdb.connect(str(data_dir / "warehouse" / "build.duckdb"), read_only=True)
    try:
        row = con.execute("select count(*) from marts.fct_plays").fetchone()
    finally:
        con.close()
    assert row is not None and row[0] == 24  # every imported day, not only the range's
    publish = [m for f, m in progress if f == "PublishReporting"]
    assert publish and publish[0].startswith("publish 1/") and "fct_plays" in " ".join(publish)
    assert any(f == "DbtBuild" and m.startswith("dbt build: ") for f, m in progress)
