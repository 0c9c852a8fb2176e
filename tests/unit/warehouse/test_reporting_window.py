"""What a build recomputes: lookup answers diffed by content, and the --select it runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline import schemas
from pipeline.io.parquet import write_parquet_atomic


def _artist(artist_id: str, genres: list[str], fetched: str) -> dict:
    return {
        "artist_id": artist_id,
        "artist_name": artist_id.title(),
        "genres": genres,
        "popularity": 1,
        "followers": 2,
        "status": "found",
        "source": "spotify_api",
        "fetched_at": dt.datetime.fromisoformat(fetched).replace(tzinfo=dt.UTC),
    }


def _write_artists(the_lake, day: dt.date, rows: list[dict], name: str = "part-0") -> None:
    write_parquet_atomic(
        the_lake.dated_partition("lookups/spotify_artists", day, name),
        pa.Table.from_pylist(rows, schema=schemas.SPOTIFY_ARTISTS),
    )


def test_same_answer_fetched_again_is_no_change(data_dir: Path) -> None:
    """A refreshed answer with the same content (new day, new file) changes nothing; a new
    genre changes exactly that artist."""
    from pipeline.io.atomic import write_json_atomic
    from pipeline.paths import lake
    from pipeline.warehouse.changes import changed_lookups, lookup_content, lookup_snapshot_file

    the_lake = lake()
    _write_artists(the_lake, dt.date(2026, 1, 1), [_artist("a", ["rock"], "2026-01-01T00:00")])
    _write_artists(the_lake, dt.date(2026, 1, 1), [_artist("b", ["jazz"], "2026-01-01T00:00")], "x")
    assert changed_lookups(the_lake, lookup_content(the_lake)) is None  # no baseline yet
    write_json_atomic(lookup_snapshot_file(the_lake), lookup_content(the_lake))

    _write_artists(the_lake, dt.date(2026, 1, 2), [_artist("a", ["rock"], "2026-01-02T00:00")])
    assert changed_lookups(the_lake, lookup_content(the_lake)) == {}

    _write_artists(
        the_lake, dt.date(2026, 1, 3), [_artist("b", ["jazz", "bebop"], "2026-01-03T00:00")]
    )
    assert changed_lookups(the_lake, lookup_content(the_lake)) == {"spotify_artists": ["b"]}


def test_kept_lookup_content_is_used_only_while_the_lookups_are_unchanged(
    data_dir: Path,
) -> None:
    """The import's child keeps the lookup content for its parent; a new answer written
    after that (an enrichment run, even within the same second) is never read from the copy."""
    import json

    from pipeline.paths import lake
    from pipeline.warehouse import changes

    the_lake = lake()
    _write_artists(the_lake, dt.date(2026, 1, 1), [_artist("a", ["rock"], "2026-01-01T00:00")])
    changes.keep_lookup_content(the_lake)
    kept = changes._kept_content_file(the_lake)
    assert kept.exists()
    kept.write_text(json.dumps({"spotify_artists|a": "as kept"}), encoding="utf-8")
    assert changes.lookup_content(the_lake) == {"spotify_artists|a": "as kept"}  # the copy

    _write_artists(the_lake, dt.date(2026, 1, 2), [_artist("b", ["jazz"], "2026-01-02T00:00")])
    content = changes.lookup_content(the_lake)  # computed: the copy is of other files
    assert sorted(content) == ["spotify_artists|a", "spotify_artists|b"]
    assert content["spotify_artists|a"] != "as kept"

    changes.keep_lookup_content(the_lake)
    copies = list(kept.parent.glob(f"{changes.KEPT_CONTENT_PREFIX}*.json"))
    assert copies == [changes._kept_content_file(the_lake)]  # the older copy is gone


def test_selection_follows_what_changed() -> None:
    """Plays select their descendants; unchanged lookups and seeds are left out; a whole
    build (or no list of days) selects everything, its column tests batched, and the whole
    suite runs them one by one."""
    from pipeline.warehouse.selection import build_selection

    plays_only = build_selection(["2026-01-01"], {}, whole=False)
    assert plays_only[0] == "--select" and "stg_spotify__plays+" in plays_only
    assert not any("musicbrainz" in s or "geo" in s for s in plays_only)
    assert plays_only[plays_only.index("--exclude") + 1 :] == [
        "test_type:unit",
        "tag:whole_suite",
        "test_name:not_null",  # run batched per model: test_name:column_checks
        "test_name:unique",
        "test_name:accepted_values",
        "test_name:relationships",
        "test_name:expression_is_true",
        "test_name:unique_combination_of_columns",
    ]
    with_genres = build_selection(["2026-01-01"], {"spotify_artists": ["b"]}, whole=False)
    assert "stg_spotify__artists+" in with_genres and "stg_geo__places+" not in with_genres
    assert "stg_spotify__plays+" not in build_selection([], {"geo_places": ["x|"]}, whole=False)
    suite = ["--exclude", "test_name:column_checks"]  # it runs each of them by name
    assert build_selection(["2026-01-01"], {}, whole=True, suite=True) == suite
    assert build_selection(None, None, whole=True, suite=True) == suite
    every_model = ["--selector", "every_model"]  # dbt_project/selectors.yml
    assert build_selection(["2026-01-01"], {}, whole=True) == every_model
    assert build_selection(None, {}, whole=False) == every_model


def test_whole_suite_reaches_every_dbt_build(data_dir: Path) -> None:
    """Inside whole_suite (cron daily, rebuild) a DbtBuild made anywhere runs the whole suite,
    and an earlier incremental build does not count as one."""
    from pipeline.io.atomic import write_json_atomic
    from pipeline.io.markers import fingerprint
    from pipeline.paths import lake
    from pipeline.tasks.warehouse import DbtBuild, whole_suite
    from pipeline.warehouse.current import build_is_current, staged_fingerprint

    day = dt.date(2026, 1, 5)
    with whole_suite():
        assert DbtBuild(date=day).full_tests
    assert not DbtBuild(date=day).full_tests
    the_lake = lake()
    the_lake.warehouse.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(the_lake.warehouse)).close()  # a build's warehouse exists
    marker = {"status": "success", "staged_fingerprint": staged_fingerprint(the_lake)}
    marker["plays_fingerprint"] = fingerprint(the_lake.plays_dir)
    write_json_atomic(the_lake.dbt_run_marker(day), {**marker, "full_tests": False})
    assert build_is_current(the_lake, day)
    assert not build_is_current(the_lake, day, full_tests=True)
    write_json_atomic(the_lake.dbt_run_marker(day), {**marker, "full_tests": True})
    assert build_is_current(the_lake, day, full_tests=True)


def test_project_or_listener_change_means_a_whole_build(tmp_path: Path) -> None:
    """An edited model, a different var or a listener's new time zone changes the project
    fingerprint, which makes the next build rebuild every model and period."""
    from pipeline.warehouse.current import project_fingerprint

    project = tmp_path / "dbt_project"
    (project / "models").mkdir(parents=True)
    (project / "models" / "m.sql").write_text("select 1", "utf-8")
    (project / "dbt_project.yml").write_text("name: x", "utf-8")
    listeners = tmp_path / "listeners.parquet"
    listeners.write_bytes(b"UTC")
    base = project_fingerprint(project, {"gap": 30}, (listeners,))
    assert project_fingerprint(project, {"gap": 30}, (listeners,)) == base
    assert project_fingerprint(project, {"gap": 45}, (listeners,)) != base
    listeners.write_bytes(b"Europe/Berlin")
    assert project_fingerprint(project, {"gap": 30}, (listeners,)) != base
    listeners.write_bytes(b"UTC")
    (project / "models" / "m.sql").write_text("select 2", "utf-8")
    assert project_fingerprint(project, {"gap": 30}, (listeners,)) != base


def test_the_last_written_build_decides_though_its_mtime_is_older(data_dir: Path) -> None:
    """A backfill's build for an earlier day, written last but with an older mtime (a restore,
    a coarse clock), is the build the warehouse is: its marker's sequence says so."""
    import os

    from pipeline.io.markers import write_marker
    from pipeline.paths import lake
    from pipeline.warehouse.current import build_is_current, latest_build, staged_fingerprint

    the_lake = lake()
    the_lake.warehouse.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(the_lake.warehouse)).close()
    now = staged_fingerprint(the_lake)
    later, earlier = dt.date(2026, 2, 2), dt.date(2026, 2, 1)
    write_marker(the_lake.dbt_run_marker(later), {"staged_fingerprint": now, "build_id": "x"})
    write_marker(the_lake.dbt_run_marker(earlier), {"staged_fingerprint": {"": "old"}})
    os.utime(the_lake.dbt_run_marker(earlier), ns=(1_000_000_000, 1_000_000_000))
    found = latest_build(the_lake)
    assert found is not None and found[0] == earlier
    assert not build_is_current(the_lake, later)  # the marker by mtime would say it is
