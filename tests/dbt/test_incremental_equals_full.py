"""The incremental warehouse equals a full refresh, through the product's own cycle.

The module imports the bundled sample (a full build), then, as a cycle would bring them, new
plays on a few days (a second export file, imported with ``music-tracker import``: staging,
an incremental ``DbtBuild`` that selects what changed and recomputes only the periods it
touches, publish) and a Spotify answer with genres for an artist first played late in the
year (a changed lookup). A copy of the staged data is then built with ``--full-refresh`` in
another lake, and every table of both warehouses must hold the same rows.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from bench.compare import mart_tables, warehouse_differences
from pipeline.paths import Lake
from pipeline.warehouse.current import latest_build
from tests.dbt.harness import dbt, lake_at, query

pytestmark = pytest.mark.slow

#: Days (UTC) the second export adds plays on, all in the sample's last two months.
NEW_DAYS = ("2025-11-20", "2025-12-02", "2025-12-30")


def _new_plays(sample: Path) -> list[dict]:
    """Five plays per new day: copies of sample plays (same tracks), at new times."""
    rows = json.loads((sample / "Streaming_History_Audio_2025_0.json").read_text("utf-8"))
    music = [r for r in rows if r.get("spotify_track_uri")]
    plays = []
    for d, day in enumerate(NEW_DAYS):
        for i in range(5):
            row = dict(music[(d * 37 + i * 11) % len(music)])
            row["ts"] = f"{day}T{20 + i // 3:02d}:{(i * 17) % 60:02d}:07Z"
            plays.append(row)
    # And a track nobody played before: a discovery on the last day.
    first = dict(music[0])
    first.update(
        ts=f"{NEW_DAYS[-1]}T23:50:00Z",
        spotify_track_uri="spotify:track:0000000000000000000new",
        master_metadata_track_name="A New Song",
    )
    return [*plays, first]


def _last_build(the_lake: Lake) -> dict:
    """The marker of the build just run (the product's own ``latest_build``)."""
    latest = latest_build(the_lake)
    assert latest is not None
    return latest[1]


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Sample imported, a cycle's worth of change built incrementally, and a full refresh."""
    from pipeline import schemas
    from pipeline.cli import import_paths
    from pipeline.io.parquet import write_parquet_atomic
    from pipeline.paths import lake
    from pipeline.settings import get_settings

    root = tmp_path_factory.mktemp("incremental_equals_full")
    inc_dir, full_dir = root / "incremental" / "data", root / "full" / "data"
    inc_dir.mkdir(parents=True)
    with lake_at(inc_dir):
        settings = get_settings()
        account = settings.default_account
        assert import_paths([settings.paths.sample_dir], account) == 0
        the_lake = lake()
        first_marker = _last_build(the_lake)
        late_artist = query(
            the_lake.warehouse,
            "select a.artist_name, min(p.local_date) from marts.fct_plays as p "
            "inner join marts.dim_artist as a using (artist_sk) where a.artist_key <> '-1' "
            "group by all having min(p.local_date) < date '2025-11-01' "
            "order by 2 desc, 1 limit 1",
        )[0][0]
        write_parquet_atomic(
            the_lake.dated_partition("lookups/spotify_artists", dt.date(2025, 12, 30)),
            pa.Table.from_pylist(
                [
                    {
                        "artist_id": "0000000000000000artist",
                        "artist_name": late_artist,
                        "genres": ["bossa nova", "jazz"],
                        "popularity": 40,
                        "followers": 1000,
                        "status": "found",
                        "source": "spotify_api",
                        "fetched_at": dt.datetime(2025, 12, 30, tzinfo=dt.UTC),
                    }
                ],
                schema=schemas.SPOTIFY_ARTISTS,
            ),
        )
        # A mart an older version made under a name no model has any more (fct_year_recap,
        # before the aggregates became agg_*): the next build must drop it, not publish it.
        con = duckdb.connect(str(the_lake.warehouse))
        con.execute("create table marts.fct_year_recap as select * from marts.agg_year_recap")
        con.close()
        export = root / "export" / "Streaming_History_Audio_2025_9.json"
        export.parent.mkdir()
        export.write_text(json.dumps(_new_plays(settings.paths.sample_dir)), "utf-8")
        assert import_paths([export.parent], account) == 0
        marker = _last_build(the_lake)
        since = query(the_lake.warehouse, "select since from intermediate.int_reporting_window")
        published = query(
            the_lake.reporting_db,
            "select view_name from duckdb_views() "
            "where not internal and view_name like 'fct_year%'",
        )
        stale = query(
            the_lake.warehouse,
            "select table_name from information_schema.tables where table_name = 'fct_year_recap'",
        )
        shutil.copytree(the_lake.staged, full_dir / "staged")
    with lake_at(full_dir):
        dbt(["build", "--full-refresh", "--exclude-resource-type", "test"])
    yield {
        "incremental": inc_dir / "warehouse" / "build.duckdb",
        "full": full_dir / "warehouse" / "build.duckdb",
        "marker": marker,
        "first_marker": first_marker,
        "since": since[0][0],
        "late_artist": late_artist,
        "published_old_names": published,
        "stale_tables": stale,
    }


def test_incremental_build_equals_full_refresh(warehouses: dict) -> None:
    """Every mart (and incremental intermediate) holds the same rows as a full refresh."""
    tables = mart_tables(warehouses["incremental"])
    assert {"marts.agg_daily_listening", "marts.agg_top_items", "intermediate.int_item_months"} <= (
        set(tables)
    )
    assert warehouse_differences(warehouses["incremental"], warehouses["full"]) == {}


def test_cycle_recomputed_only_the_changed_periods(warehouses: dict) -> None:
    """The cycle's window starts at the first play of the artist whose genres arrived (earlier
    than the new plays' days), not at the first day of the history."""
    first_play, first_of_artist = query(
        warehouses["incremental"],
        "select min(p.local_date), min(p.local_date) filter (where a.artist_name = ?) "
        "from marts.fct_plays as p inner join marts.dim_artist as a using (artist_sk)",
        [warehouses["late_artist"]],
    )[0]
    assert warehouses["since"] == first_of_artist  # before the new plays' days
    assert warehouses["since"] > first_play


def test_cycle_selected_what_changed_and_tested_it(warehouses: dict) -> None:
    """The incremental build ran the marts and their tests, and skipped the untouched seed."""
    ids = [r["unique_id"] for r in warehouses["marker"]["results"]]
    assert "model.music_tracker.agg_daily_listening" in ids
    assert any(i.startswith("test.music_tracker.") and "agg_daily_listening" in i for i in ids)
    assert not any(i.startswith("seed.") for i in ids)
    assert not any(i.startswith("unit_test.") for i in ids), "unit tests belong to the daily run"
    assert set(warehouses["marker"]["counts"]) <= {"success", "pass"}


def test_the_cycle_ran_on_two_threads_and_the_first_build_on_one(warehouses: dict) -> None:
    """A build of three changed days runs dbt's nodes on ``dbt.cycle_threads`` (2) threads, and
    still equals the full refresh (above); the sample's first, whole build ran on one."""
    marker, first = warehouses["marker"], warehouses["first_marker"]
    assert (marker["threads"], first["threads"]) == (2, 1)
    assert len(_workers(marker)) == 2
    assert len(_workers(first)) == 1


def _workers(marker: dict) -> set[str]:
    """The dbt worker threads a build's nodes ran on (operations run on dbt's main thread)."""
    return {r["thread_id"] for r in marker["results"] if r["thread_id"].startswith("Thread-")}


def test_a_mart_no_model_makes_is_dropped_and_not_published(warehouses: dict) -> None:
    """A table left by a renamed mart is dropped by the next build and never reaches Metabase."""
    assert warehouses["stale_tables"] == []
    assert warehouses["published_old_names"] == []


def test_discoveries_agree_across_marts(warehouses: dict) -> None:
    """New tracks and artists per listener and year are the same in the daily, monthly and
    recap marts (one definition: int_plays_discoveries)."""
    for db in (warehouses["incremental"], warehouses["full"]):
        daily = query(
            db,
            "select account, year(local_date), sum(new_tracks), sum(new_artists) "
            "from marts.agg_daily_listening group by all order by all",
        )
        monthly = query(
            db,
            "select account, year(month_start), sum(new_tracks), sum(new_artists) "
            "from marts.agg_discovery_monthly group by all order by all",
        )
        recap = query(
            db,
            "select account, year, new_tracks, new_artists from marts.agg_year_recap "
            "where new_tracks > 0 or new_artists > 0 order by all",
        )
        assert daily == monthly == recap
        assert daily and all(row[2] > 0 for row in daily)


def test_daily_runs_every_model_period_and_test(warehouses: dict, tmp_path: Path) -> None:
    """Under whole_suite (cron daily, rebuild) a build that is otherwise current runs again:
    every model and seed, every period, every test, and the marts keep their rows."""
    from pipeline.io.markers import latest_marker
    from pipeline.runner import run_tasks
    from pipeline.tasks.warehouse import DbtBuild, whole_suite

    lake_dir = tmp_path / "data"
    shutil.copytree(warehouses["incremental"].parent.parent, lake_dir)
    day = dt.date.fromisoformat(warehouses["marker"]["date"])
    with lake_at(lake_dir):
        from pipeline.paths import lake

        the_lake = lake()
        assert DbtBuild(date=day).complete()
        with whole_suite():
            assert not DbtBuild(date=day).complete()
            assert run_tasks([DbtBuild(date=day)]) == 0
            assert DbtBuild(date=day).complete()
        built = latest_marker(the_lake.dbt_runs_dir, "run_results.json")
        assert built is not None and built[1]["full_tests"]
        ids = [r["unique_id"] for r in built[1]["results"]]
        assert any(i.startswith("seed.") for i in ids)
        assert any(i.startswith("unit_test.") for i in ids)
        tests = [i for i in ids if i.startswith("test.")]
        incremental_tests = [
            r for r in warehouses["marker"]["results"] if r["unique_id"].startswith("test.")
        ]
        assert len(tests) > len(incremental_tests)
        since = query(the_lake.warehouse, "select since from intermediate.int_reporting_window")
        assert since == [(dt.date(1, 1, 1),)]
    assert warehouse_differences(lake_dir / "warehouse" / "build.duckdb", warehouses["full"]) == {}
