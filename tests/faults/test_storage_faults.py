"""Disk full, corrupt Parquet and config typos: a clear message, nothing lost, a rerun completes."""

from __future__ import annotations

import datetime as dt
import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import schemas
from pipeline.io.parquet import write_parquet_atomic
from tests.conftest import run_luigi
from tests.faults.helpers import REPO, temp_leftovers, unreadable_visible_files

DAY = dt.date(2024, 3, 2)


def _poll_play(i: int) -> dict:
    played = dt.datetime(2024, 3, 2, 12, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=4 * i)
    return {
        "play_id": f"poll-{i:04d}",
        "account": "me",
        "track_id": f"{i:022d}",
        "content_type": "music",
        "track_name": f"Song {i}",
        "artist_name": "Artist",
        "source": "api",
        "source_file": "poll-test",
        "ts_precision": "ms",
        "ms_played": 180_000,
        "source_row": i,
        "is_local": False,
        "played_at": played,
    }


def _land_poll(lake: Path, name: str, plays: list[int]) -> None:
    table = pa.Table.from_pylist([_poll_play(i) for i in plays], schema=schemas.PLAYS)
    target = lake / "staged/polls/v1/account=me" / f"date={DAY.isoformat()}" / f"{name}.parquet"
    write_parquet_atomic(target, table)


def _partition_ids(lake: Path) -> list[str]:
    path = lake / "staged/plays/v1" / f"date={DAY.isoformat()}" / "part-0.parquet"
    return sorted(pq.read_table(path).column("play_id").to_pylist())


def test_disk_full_keeps_the_old_partition(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing partition write leaves the old partition, says why, and a later run completes."""
    from pipeline.tasks import StagePlays

    _land_poll(data_dir, "poll-1", [0, 1, 2])
    assert run_luigi([StagePlays(date=DAY)])
    _land_poll(data_dir, "poll-2", [3, 4])

    real_write = pq.write_table

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pq, "write_table", full_disk)
    import luigi.task_register

    luigi.task_register.Register.clear_instance_cache()
    with caplog.at_level("ERROR"):
        assert not run_luigi([StagePlays(date=DAY)])
    assert "No space left on device" in caplog.text
    assert "previous version of that partition is kept" in caplog.text
    assert _partition_ids(data_dir) == ["poll-0000", "poll-0001", "poll-0002"]
    assert temp_leftovers(data_dir) == []

    monkeypatch.setattr(pq, "write_table", real_write)
    luigi.task_register.Register.clear_instance_cache()
    assert run_luigi([StagePlays(date=DAY)])
    assert _partition_ids(data_dir) == [f"poll-{i:04d}" for i in range(5)]


def test_corrupt_partition_is_rebuilt(data_dir: Path) -> None:
    """A partition overwritten with garbage is seen as stale and rebuilt from its inputs."""
    import luigi.task_register

    from pipeline.tasks import StagePlays

    _land_poll(data_dir, "poll-1", [0, 1])
    assert run_luigi([StagePlays(date=DAY)])
    path = data_dir / "staged/plays/v1" / f"date={DAY.isoformat()}" / "part-0.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    luigi.task_register.Register.clear_instance_cache()
    assert not StagePlays(date=DAY).complete()
    assert run_luigi([StagePlays(date=DAY)])
    assert _partition_ids(data_dir) == ["poll-0000", "poll-0001"]
    assert unreadable_visible_files(data_dir) == []


def test_corrupt_import_unit_stops_staging_and_rebuild_repairs_it(
    data_dir: Path, export_fixtures: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A corrupt import unit never silently drops its plays; `rebuild`'s import re-creates it."""
    import luigi.task_register

    from pipeline.tasks import ImportExport, StageAllPlays

    export = export_fixtures / "efrrowini_Streaming_History_Audio_2023_first20.json"
    assert run_luigi([ImportExport(file=str(export))])
    assert run_luigi([StageAllPlays()])
    staged = sorted((data_dir / "staged/plays/v1").glob("date=*/*.parquet"))
    before = sum(pq.read_metadata(p).num_rows for p in staged)
    assert before == 20
    unit = next((data_dir / "staged/imports/v1").glob("*.parquet"))
    unit.write_bytes(b"garbage")

    luigi.task_register.Register.clear_instance_cache()
    with caplog.at_level("WARNING"):
        assert not run_luigi([StageAllPlays()])
    assert "unreadable" in caplog.text and "music-tracker rebuild" in caplog.text

    luigi.task_register.Register.clear_instance_cache()
    raw = next((data_dir / "raw/exports").glob("*/*.json"))
    assert run_luigi([ImportExport(file=str(raw))])  # what `music-tracker rebuild` runs first
    luigi.task_register.Register.clear_instance_cache()
    assert run_luigi([StageAllPlays()])
    staged = sorted((data_dir / "staged/plays/v1").glob("date=*/*.parquet"))
    assert sum(pq.read_metadata(p).num_rows for p in staged) == before


def test_config_typo_names_the_setting(tmp_path: Path) -> None:
    """A typo in a config file stops the CLI with the setting's name, before touching data."""
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    base = (config / "base.yaml").read_text(encoding="utf-8")
    typo = base.replace("\n  memory_limit:", "\n  memory_limt:", 1)
    assert typo != base
    (config / "base.yaml").write_text(typo, encoding="utf-8")
    lake = tmp_path / "data"
    env = dict(os.environ, MUSIC_TRACKER_CONFIG_DIR=str(config))
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "--data-dir", str(lake), "build"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "duckdb.memory_limt: unknown setting" in done.stderr
    assert not lake.exists()
