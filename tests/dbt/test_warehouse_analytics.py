"""The warehouse's analytics against hand-computed answers on a crafted history (crafted.py).

dbt runs three times for the whole module: a first build on batch 1, an incremental
``dbt build`` after batch 2 (data tests included; staging reloads only the play days batch 2
touched, as DbtBuild asks) whose results the checks read, and a ``--full-refresh`` run whose
tables must equal the incremental ones.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.dbt import crafted
from tests.dbt.harness import dbt, lake_at, query

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(module_lake: Path) -> Iterator[dict]:
    """Build batch 1, add batch 2, build incrementally, snapshot, then full-refresh."""
    from pipeline.io.markers import fingerprint
    from pipeline.paths import lake

    with lake_at(module_lake):
        the_lake = lake()
        crafted.write_batch_1(the_lake)
        dbt(["build", "--exclude-resource-type", "test"])
        before = fingerprint(the_lake.plays_dir)
        crafted.write_batch_2(the_lake)
        now = fingerprint(the_lake.plays_dir)
        changed = sorted(k.removeprefix("date=") for k in now if before.get(k) != now[k])
        assert changed and len(changed) < len(now)
        dbt(["build"], changed_days=changed)
        con = duckdb.connect(str(the_lake.warehouse), read_only=True)
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        ]
        incremental = {}
        for table in tables:
            incremental[table] = con.execute(f"select * from marts.{table}").fetchall()
        con.close()
        freshness_out = dbt(["source", "freshness", "--select", "source:spotify.plays"])
        sources = json.loads(_read_sources_json())
        dbt(["build", "--full-refresh", "--exclude-resource-type", "test"])
        yield {
            "db": the_lake.warehouse,
            "incremental": incremental,
            "freshness": sources,
            "freshness_out": freshness_out,
        }


def _read_sources_json() -> str:
    from pipeline.warehouse.run import dbt_target_dir

    return (dbt_target_dir() / "sources.json").read_text()


def _fct(built: dict, where: str, columns: str) -> list[tuple]:
    return query(built["db"], f"select {columns} from marts.fct_plays where {where}")


def test_full_refresh_gives_the_incremental_tables(built: dict) -> None:
    """A full refresh rebuilds exactly the rows the incremental run produced, in every mart."""
    con = duckdb.connect(str(built["db"]), read_only=True)
    try:
        for table, rows in built["incremental"].items():
            refreshed = con.execute(f"select * from marts.{table}").fetchall()
            assert sorted(map(repr, refreshed)) == sorted(map(repr, rows)), table
    finally:
        con.close()


def test_incremental_run_drops_replaced_and_adds_late_plays(built: dict) -> None:
    """The poll's play replaced by the export's copy is gone; the late old import is in."""
    ids = {r[0] for r in _fct(built, "true", "play_id")}
    assert "x1-api" not in ids
    assert {"x1-export", "y1", "o1"} <= ids
    assert len(ids) == len(crafted.BATCH_1) + len(crafted.BATCH_2) - 1


def test_local_time_is_dst_correct(built: dict) -> None:
    """Local hour and date follow each listener's zone across spring-forward and fall-back."""
    rows = dict(
        (r[0], r[1:])
        for r in _fct(built, "true", "play_id, local_hour, local_date, partition_date, session_sk")
    )
    # Berlin spring forward: 01:54 CET then 03:10 CEST, one session (12 real minutes).
    assert rows["m1"][0] == 1 and rows["m2"][0] == 3
    assert rows["m1"][3] == rows["m2"][3]
    # Berlin fall back: 00:30 CEST on the 27th is still the 26th in UTC.
    assert rows["m3"][1] == dt.date(2024, 10, 27) and rows["m3"][2] == dt.date(2024, 10, 26)
    # 02:30 CEST and 02:30 CET: the same local hour, an hour apart.
    assert rows["m4"][0] == rows["m5"][0] == 2
    assert rows["m4"][1] == rows["m5"][1] == dt.date(2024, 10, 27)
    # New York spring forward: 01:50 EST then 03:05 EDT, one session.
    assert rows["n1"][0] == 1 and rows["n2"][0] == 3
    assert rows["n1"][3] == rows["n2"][3]
    # An unconfigured account is kept, in UTC.
    assert rows["g1"][0] == 14


def test_weekday_hour_pattern_counts_the_repeated_hour(built: dict) -> None:
    """The heatmap puts both 02:30 plays of the fall-back night in Sunday 02:00."""
    rows = query(
        built["db"],
        "select hour_of_day, plays from marts.agg_listening_patterns "
        "where account = 'me' and iso_weekday = 7 and hour_of_day in (0, 1, 2, 3) "
        "order by hour_of_day",
    )
    # Sunday 2024-10-27: m3 at 00:30, m4 + m5 at 02:30; Sunday 2024-03-31: m1 01:54, m2 03:10;
    # Sunday 2024-05-05: nothing before 10:00 local.
    assert rows == [(0, 1), (1, 1), (2, 2), (3, 1)]
    cells = query(built["db"], "select count(*) from marts.agg_listening_patterns")
    assert cells == [(3 * 7 * 24,)]


def test_sessions_split_on_the_idle_gap(built: dict) -> None:
    """Sessions break after more than 30 idle minutes, not at exactly 30; none overlap."""
    rows = query(
        built["db"],
        "select plays, session_start_at from marts.fct_sessions "
        "where account = 'me' and local_date = '2024-05-01' order by session_start_at",
    )
    assert [r[0] for r in rows] == [2, 2]
    total = query(built["db"], "select count(*) from marts.fct_sessions where account = 'me'")
    # o1 | m1+m2 | s1+s2 | s3+s4 | d1 | d2 | d3 | u1 | p1 | m3 | m4 | m5 | x1 | y1
    assert total == [(14,)]


def test_daily_streaks(built: dict) -> None:
    """Consecutive local days form streaks; the longest is 1-3 May."""
    rows = query(
        built["db"],
        "select streak_start_date, streak_end_date, streak_days from marts.agg_listening_streaks "
        "where account = 'me' and streak_rank = 1",
    )
    assert rows == [(dt.date(2024, 5, 1), dt.date(2024, 5, 3), 3)]
    latest = query(
        built["db"],
        "select streak_start_date, streak_days from marts.agg_listening_streaks "
        "where account = 'me' and is_latest",
    )
    assert latest == [(dt.date(2024, 11, 10), 2)]


def test_first_play_discovery_follows_late_imports(built: dict) -> None:
    """The late-imported old play becomes the first play; the earlier 'first' is no longer."""
    flags = dict(
        (r[0], (r[1], r[2]))
        for r in _fct(built, "account = 'me'", "play_id, is_first_track_play, is_first_artist_play")
    )
    assert flags["o1"] == (True, True)  # first S2, first Alpha
    assert flags["m3"] == (False, False)  # S2 again
    # S1 is another release of Song One (one ISRC), first played as S2 in o1: no discovery.
    assert flags["m1"] == (False, False)
    assert flags["m2"] == (True, True)  # first S3, first Beta (album artist)
    months = query(
        built["db"],
        "select year_month, new_artists, new_tracks from marts.agg_discovery_monthly "
        "where account = 'me' order by year_month",
    )
    # New recordings: Feb Song One (ISRC), Mar Three, May Blue + Mystery.
    assert months[:3] == [("2024-02", 1, 1), ("2024-03", 1, 1), ("2024-05", 0, 2)]


def test_isrc_merges_releases_of_one_recording(built: dict) -> None:
    """The single and the album track share one recording, which tops the year's tracks."""
    tracks = query(
        built["db"],
        "select track_id, recording_key, recording_release_count from marts.dim_track "
        "where track_id in ('S1', 'S2') order by track_id",
    )
    assert tracks == [
        ("S1", f"isrc:{crafted.ISRC_SONG_ONE}", 2),
        ("S2", f"isrc:{crafted.ISRC_SONG_ONE}", 2),
    ]
    top = query(
        built["db"],
        "select item_name, item_subtitle, plays, minutes_played from marts.agg_top_items "
        "where account = 'me' and period_grain = 'year' and period_label = '2024' "
        "and item_type = 'track' order by item_rank limit 2",
    )
    # Song One: S1 4+3+2+2+3 = 14 min + S2 2+5 = 7 min; Blue 3+3+3+5+2+3 = 19 min.
    assert top == [("Song One", "Alpha", 7, 21.0), ("Blue", "Beta", 6, 19.0)]


def test_unknown_members_keep_every_play(built: dict) -> None:
    """Plays without artist, album or track land on Unknown members; none is lost."""
    unknown = query(
        built["db"],
        "select f.play_id, a.artist_name, al.album_name, t.track_name "
        "from marts.fct_plays f "
        "join marts.dim_artist a using (artist_sk) join marts.dim_album al using (album_sk) "
        "join marts.dim_track t using (track_sk) "
        "where f.play_id in ('u1', 'p1') order by f.play_id",
    )
    assert unknown == [
        ("p1", "Unknown", "Unknown", "Unknown"),
        ("u1", "Unknown", "Unknown", "Mystery"),
    ]
    ghost = query(
        built["db"],
        "select timezone, is_configured from marts.dim_listener where account = 'ghost'",
    )
    assert ghost == [("UTC", False)]
    checks = dict(
        (r[0], r[1:])
        for r in query(
            built["db"],
            "select check_name, measured, total from marts.agg_data_quality where detail = 'all'",
        )
    )
    assert checks["music_plays_unknown_artist"] == (1, 19)  # of 20 plays, p1 is a podcast
    assert checks["polling_gaps"] == (1, None)
    assert checks["tracks_with_catalogue"] == (4, 5)


def test_enrichment_reaches_artists_genres_and_origins(built: dict) -> None:
    """MusicBrainz tags become weighted genres (seed-filtered), Spotify genres count too."""
    weights = query(
        built["db"],
        "select a.artist_name, g.genre_name, round(b.weight, 4) from marts.bridge_artist_genre b "
        "join marts.dim_artist a using (artist_sk) join marts.dim_genre g using (genre_sk) "
        "where a.artist_name in ('Alpha', 'Beta') order by 1, 3 desc",
    )
    assert weights == [
        ("Alpha", "rock", 0.8333),
        ("Alpha", "electronic", 0.1667),
        ("Beta", "jazz", 1.0),
    ]
    alpha = query(
        built["db"],
        "select a.artist_type, a.origin_country_code, l.city, l.latitude "
        "from marts.dim_artist a join marts.dim_location l on a.origin_location_sk = l.location_sk "
        "where a.artist_name = 'Alpha'",
    )
    assert alpha == [("group", "DE", "Berlin", 52.52)]
    credits = query(
        built["db"],
        "select a.artist_name, b.artist_role from marts.bridge_track_artist b "
        "join marts.dim_track t using (track_sk) join marts.dim_artist a using (artist_sk) "
        "where t.track_id = 'S3' order by b.artist_position",
    )
    assert credits == [("Beta", "primary"), ("Alpha", "featured")]


def test_late_catalogue_lookup_reaches_old_plays(built: dict) -> None:
    """A track length that arrives after its plays were built fills their share played."""
    rows = _fct(built, "play_id in ('s3', 'd1')", "play_id, track_duration_ms, share_played")
    assert sorted(rows) == [("d1", 200_000, 0.6), ("s3", 200_000, 0.9)]


def test_year_recap(built: dict) -> None:
    """The 2024 recap of 'me' matches the hand-computed Wrapped."""
    row = query(
        built["db"],
        "select minutes_played, plays, top_artist, top_track, top_genre, new_artists, new_tracks, "
        "longest_streak_days, biggest_day, biggest_day_minutes, active_days, top_artists "
        "from marts.agg_year_recap where account = 'me' and year = 2024",
    )
    assert row == [
        (
            80.0,  # 2+4+4+5+5+5+3+3+3+3+2+2+2+1+30+3+3
            17,
            "Beta",  # Blue 19 + Three 9 = 28 min; Alpha 21
            "Song One",  # 21 min over two releases
            "jazz",  # Beta 28 min; rock 21 * 10/12 = 17.5
            2,
            4,  # Song One, Three, Blue, Mystery
            3,
            dt.date(2024, 5, 5),  # 2 + 1 + 30 (podcast) minutes
            33.0,
            9,
            "Beta, Alpha",
        )
    ]


def test_source_freshness_warns_when_polling_stopped(built: dict) -> None:
    """Plays last landed in 2024, so `dbt source freshness` warns (and does not error)."""
    statuses = {r["unique_id"]: r["status"] for r in built["freshness"]["results"]}
    assert statuses == {"source.music_tracker.spotify.plays": "warn"}
