"""What a 30-minute cycle may skip: unchanged play days (dbt) and unchanged mart parts (publish)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from pipeline.io.atomic import write_json_atomic
from pipeline.paths import Lake
from pipeline.reporting import publish_marts, published_mart_dir
from pipeline.warehouse.changes import MAX_CHANGED_DAYS, plays_changed_dates


def _lake_with_build(root: Path, plays_fp: dict[str, str] | None, status: str = "success") -> Lake:
    the_lake = Lake(root)
    the_lake.warehouse.parent.mkdir(parents=True)
    the_lake.warehouse.touch()
    marker = {"status": status}
    if plays_fp is not None:
        marker["plays_fingerprint"] = plays_fp
    write_json_atomic(the_lake.dbt_run_marker(dt.date(2026, 11, 30)), marker)
    return the_lake


def test_only_added_rewritten_and_removed_days_are_reloaded(tmp_path: Path) -> None:
    before = {"date=2026-11-28": "a", "date=2026-11-29": "b", "date=2026-11-30": "c"}
    the_lake = _lake_with_build(tmp_path, before)
    now = {"date=2026-11-28": "a", "date=2026-11-30": "c2", "date=2026-12-01": "d"}
    assert plays_changed_dates(the_lake, now) == ["2026-11-29", "2026-11-30", "2026-12-01"]
    assert plays_changed_dates(the_lake, before) == []


@pytest.mark.parametrize(
    ("plays_fp", "status", "full_refresh", "warehouse"),
    [
        (None, "success", False, True),  # a build from before the fingerprint was kept
        ({"date=2026-11-28": "a"}, "skipped", False, True),  # that build never ran dbt
        ({"date=2026-11-28": "a"}, "success", True, True),  # `music-tracker rebuild`
        ({"date=2026-11-28": "a"}, "success", False, False),  # warehouse file deleted
    ],
)
def test_every_day_is_reloaded_when_the_last_build_cannot_be_trusted(
    tmp_path: Path, plays_fp: dict | None, status: str, full_refresh: bool, warehouse: bool
) -> None:
    the_lake = _lake_with_build(tmp_path, plays_fp, status)
    if not warehouse:
        the_lake.warehouse.unlink()
    now = {"date=2026-11-28": "a", "date=2026-12-01": "d"}
    assert plays_changed_dates(the_lake, now, full_refresh=full_refresh) is None


def test_a_huge_backfill_reloads_every_day(tmp_path: Path) -> None:
    the_lake = _lake_with_build(tmp_path, {})
    start = dt.date(2016, 1, 1)
    now = {f"date={start + dt.timedelta(days=i)}": "x" for i in range(MAX_CHANGED_DAYS + 1)}
    assert plays_changed_dates(the_lake, now) is None


def _warehouse(the_lake: Lake, plays: list[tuple[str, str, int]]) -> None:
    the_lake.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(the_lake.warehouse))
    con.execute("create schema if not exists marts")
    con.execute(
        "create or replace table marts.fct_plays "
        "(play_id varchar, partition_date date, ms_played bigint)"
    )
    if plays:
        con.executemany("insert into marts.fct_plays values (?, ?, ?)", plays)
    con.execute(
        "create or replace table marts.dim_listener as select 'me' as account, 'Me' as name"
    )
    con.close()


def _inodes(the_lake: Lake) -> dict[str, int]:
    """Each part of the current generation by its inode: a part linked, not rewritten, keeps it."""
    marts = published_mart_dir(the_lake, "fct_plays").parent
    return {p.name: p.stat().st_ino for p in sorted(marts.glob("*/*.parquet"))}


def test_publish_rewrites_only_the_parts_whose_rows_changed(tmp_path: Path) -> None:
    the_lake = Lake(tmp_path)
    old = [("a", "2024-03-01", 1000), ("b", "2025-06-01", 2000)]
    _warehouse(the_lake, old)
    assert publish_marts(the_lake) == {"dim_listener": 1, "fct_plays": 2}
    assert sorted(p.name for p in published_mart_dir(the_lake, "fct_plays").iterdir()) == [
        "2024.parquet",
        "2025.parquet",
    ]
    first = _inodes(the_lake)

    # Nothing changed: nothing is rewritten (the new generation links the same files).
    publish_marts(the_lake)
    assert _inodes(the_lake) == first

    # A new play in 2025 and one in a new year: 2024 and dim_listener stay as they were.
    _warehouse(the_lake, [*old, ("c", "2025-06-02", 3000), ("d", "2026-01-01", 4000)])
    publish_marts(the_lake)
    after = _inodes(the_lake)
    assert after["2024.parquet"] == first["2024.parquet"]
    assert after["all.parquet"] == first["all.parquet"]
    assert after["2025.parquet"] != first["2025.parquet"]
    con = duckdb.connect(str(the_lake.reporting_db), read_only=True)
    assert con.execute("select count(*), sum(ms_played) from fct_plays").fetchone() == (4, 10000)
    con.close()

    # Plays of a year all gone (replaced): that year's file goes too.
    _warehouse(the_lake, [("b", "2025-06-01", 2000)])
    publish_marts(the_lake)
    assert sorted(p.name for p in published_mart_dir(the_lake, "fct_plays").iterdir()) == [
        "2025.parquet"
    ]


def test_publish_of_an_empty_mart_still_gives_readers_a_file(tmp_path: Path) -> None:
    the_lake = Lake(tmp_path)
    _warehouse(the_lake, [])
    assert publish_marts(the_lake)["fct_plays"] == 0
    con = duckdb.connect(str(the_lake.reporting_db), read_only=True)
    assert con.execute("select count(*) from fct_plays").fetchone() == (0,)
    con.close()
