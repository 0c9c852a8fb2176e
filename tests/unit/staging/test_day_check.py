"""One day's staging check: exact about that day's inputs, and it never lists every partition
(Luigi re-checks a task's inputs before it runs, each time in a pass of its own)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pyarrow as pa
import pytest

from pipeline import schemas
from pipeline.io.parquet import write_parquet_atomic
from pipeline.io.pass_cache import scheduling_pass
from pipeline.paths import lake
from pipeline.staging.memo import day_is_current
from tests.conftest import run_luigi

DAY = dt.date(2026, 3, 1)
NEXT = DAY + dt.timedelta(days=1)


def _poll(day: dt.date, name: str, n: int) -> Path:
    """A poll file of ``day`` holding one play, as ingestion writes it."""
    play = {
        "play_id": f"{day}-{n}",
        "account": "me",
        "content_type": "music",
        "track_name": f"song {n}",
        "artist_name": "Band",
        "source": "api",
        "source_file": name,
        "ts_precision": "ms",
        "ms_played": 1000 + n,
        "source_row": n,
        "is_local": False,
        "played_at": dt.datetime.combine(day, dt.time(12, n % 60), tzinfo=dt.UTC),
    }
    path = lake().polls_dir / "account=me" / f"date={day}" / f"{name}.parquet"
    write_parquet_atomic(path, pa.Table.from_pylist([play], schema=schemas.PLAYS))
    return path


@pytest.fixture
def listed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every folder listed with ``os.scandir`` (how the staged tree is walked)."""
    folders: list[str] = []
    real = os.scandir

    def counting(path: str | os.PathLike[str] = ".") -> object:
        folders.append(str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", counting)
    return folders


def _check(day: dt.date) -> bool:
    with scheduling_pass():  # a pass of its own, as Luigi's re-check before a task runs
        return day_is_current(lake(), day)


def test_a_day_is_checked_against_its_own_inputs_without_listing_the_partitions(
    data_dir: Path, listed: list[str]
) -> None:
    from pipeline.tasks import StageAllPlays

    _poll(DAY, "a", 1)
    later = _poll(NEXT, "b", 2)
    assert not _check(DAY)  # not staged yet
    assert run_luigi([StageAllPlays()])
    listed.clear()
    assert _check(DAY) and _check(NEXT)
    plays = str(lake().plays_dir)
    assert listed and not [f for f in listed if f.startswith(plays)]

    _poll(DAY, "c", 3)  # a new poll for DAY: only DAY is stale
    assert not _check(DAY) and _check(NEXT)
    write_parquet_atomic(later, pa.Table.from_pylist([], schema=schemas.PLAYS))
    assert not _check(NEXT)  # a rewritten input makes its day stale
    lake().plays_partition(NEXT).unlink()
    assert not _check(NEXT)
    assert run_luigi([StageAllPlays()])
    assert _check(DAY) and _check(NEXT)
