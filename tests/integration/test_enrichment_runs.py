"""Enrichment runs against cassettes of real MusicBrainz, Nominatim and Spotify payloads."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import vcr

from pipeline import schemas
from pipeline.enrich import runs
from pipeline.paths import lake
from pipeline.settings import reload_settings
from tests.fake_time import FakeTime

CASSETTES = Path(__file__).parent.parent / "cassettes" / "test_enrichment_runs"
FIXTURES = Path(__file__).parent.parent / "fixtures"
DAY = dt.date(2026, 11, 24)
START = dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC)

VCR = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="none",
    match_on=("method", "scheme", "host", "port", "path", "query"),
    filter_headers=["authorization"],
)


@pytest.fixture
def enriched(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A lake with enrichment switched on (as in production), no network."""
    monkeypatch.setenv("MUSIC_TRACKER__ENRICHMENT__ENABLED", "true")
    reload_settings()
    return data_dir


def set_config(monkeypatch: pytest.MonkeyPatch, **values: object) -> None:
    for name, value in values.items():
        monkeypatch.setenv(f"MUSIC_TRACKER__{name.upper()}", str(value))
    reload_settings()


def write_plays(plays: list[tuple[str | None, str, int]]) -> None:
    """Stage plays (track_id, artist_name, ms_played) for DAY."""
    rows = []
    for i, (track_id, artist, ms) in enumerate(plays):
        rows.append(
            {
                "play_id": f"p{i}",
                "account": "me",
                "track_id": track_id,
                "content_type": "music",
                "artist_name": artist,
                "track_name": "t",
                "source": "export_extended",
                "source_file": "f.json",
                "ts_precision": "s",
                "ms_played": ms,
                "source_row": i,
                "is_local": False,
                "played_at": dt.datetime(2026, 11, 24, 12, i % 60, tzinfo=dt.UTC),
            }
        )
    target = lake().plays_partition(DAY)
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schemas.PLAYS), target)


def ctx(clock: FakeTime, date: dt.date = DAY) -> runs.RunContext:
    return runs.RunContext(lake(), date, now=clock.now, clock=clock.clock, sleep=clock.sleep)


def land(result: runs.RunResult, order: list[str], date: dt.date = DAY) -> list[dict]:
    runs.finish(lake(), date, result, order)
    return pq.read_table(lake().dated_partition(order[-1], date)).to_pylist()


def test_name_search_matches_and_tells_genres_from_tags(enriched: Path) -> None:
    """A name-only artist is matched by a confident search; only official genres become genres."""
    write_plays([(None, "Burzum", 300_000)])
    clock = FakeTime(START)
    with VCR.use_cassette("name_search_genres.yaml"):
        result = runs.run_artists(ctx(clock))
    (row,) = land(result, [runs.MB_ARTISTS])
    assert row["mbid"] == "49cd96a6-42c3-44f6-ba2a-cd9301046b96"
    assert (row["status"], row["match_method"], row["match_score"]) == ("found", "name_search", 100)
    genres = [g["name"] for g in row["genres"]]
    assert genres[:2] == ["black metal", "dungeon synth"]
    assert "norwegian" not in genres and "norwegian" in [t["name"] for t in row["tags"]]
    assert (row["begin_area_name"], row["area_name"]) == ("Bergen", "Limousis")


def test_two_artists_called_the_same_are_not_matched_and_no_area_is_fine(
    enriched: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'Dynamo' (three same-name artists) stays unmatched; 'Dynamo Go' (no area) is found."""
    set_config(monkeypatch, musicbrainz__format="xml")
    write_plays([(None, "Dynamo Go", 500_000), (None, "Dynamo", 100_000)])
    clock = FakeTime(START)
    with VCR.use_cassette("ambiguous_and_no_area.yaml"):
        result = runs.run_artists(ctx(clock))
    rows = {r["query_name"]: r for r in land(result, [runs.MB_ARTISTS])}
    dynamo = rows["Dynamo"]
    assert (dynamo["status"], dynamo["mbid"], dynamo["match_method"]) == (
        "not_found",
        None,
        "ambiguous_name",
    )
    assert "4 artists named 'Dynamo'" in dynamo["match_note"]
    go = rows["Dynamo Go"]
    assert (go["status"], go["mbid"], go["country"]) == (
        "found",
        "952a4205-023d-4235-897c-6fdb6f58dfaa",
        "NZ",
    )
    assert go["area_name"] is None and go["begin_area_name"] is None
    assert clock.sleeps == [1.1]  # one request per second plus the 10% margin (fake clock)


def test_budget_exhaustion_resumes_next_run_and_known_artists_cost_nothing(
    enriched: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 1-call budget looks up the most listened artist, the next run the other, then nothing."""
    set_config(monkeypatch, musicbrainz__format="xml", musicbrainz__calls_per_run=1)
    write_plays([(None, "Dynamo", 100_000), (None, "Dynamo Go", 500_000)])
    clock = FakeTime(START)
    with VCR.use_cassette("budget_run1.yaml"):
        first = runs.run_artists(ctx(clock))
    assert [r["query_name"] for r in land(first, [runs.MB_ARTISTS])] == ["Dynamo Go"]
    assert "budget" in first.report.stopped
    day2 = DAY + dt.timedelta(days=1)
    with VCR.use_cassette("budget_run2.yaml"):
        second = runs.run_artists(ctx(clock, day2))
    assert [r["query_name"] for r in land(second, [runs.MB_ARTISTS], day2)] == ["Dynamo"]
    day3 = DAY + dt.timedelta(days=2)
    with VCR.use_cassette("no_interactions.yaml"):
        third = runs.run_artists(ctx(clock, day3))
    assert land(third, [runs.MB_ARTISTS], day3) == []
    assert (third.report.calls, third.report.hit_rate) == (0, 1.0)


def test_retry_after_of_13_hours_ends_the_run_and_records_when_to_resume(enriched: Path) -> None:
    """A 429 asking for 13 hours stops at once; the state says when; the next run waits."""
    write_plays([(None, "Burzum", 300_000)])
    clock = FakeTime(START)
    with VCR.use_cassette("retry_after_13h.yaml"):
        result = runs.run_artists(ctx(clock))
    assert land(result, [runs.MB_ARTISTS]) == []
    assert result.report.resume_at == (START + dt.timedelta(hours=13)).isoformat()
    assert clock.sleeps == []  # never sat out the Retry-After
    state = runs.open_state(lake(), "musicbrainz")
    assert state.resume_at() == START + dt.timedelta(hours=13)
    state.close()
    with VCR.use_cassette("no_interactions.yaml"):
        again = runs.run_artists(ctx(clock))
    assert again.report.calls == 0 and again.report.stopped.startswith("paused until")
    again.state.close()  # type: ignore[union-attr]


def test_503_is_retried_with_backoff(enriched: Path) -> None:
    """Two 503s, then an answer: backoff 2 s then 4 s on the fake clock, and the artist lands."""
    write_plays([(None, "Burzum", 300_000)])
    clock = FakeTime(START)
    with VCR.use_cassette("backoff_503.yaml"):
        result = runs.run_artists(ctx(clock))
    (row,) = land(result, [runs.MB_ARTISTS])
    assert row["status"] == "found"
    assert clock.sleeps == [2.0, 4.0]
    assert result.report.calls == 3


def _mb_partition(rows: list[dict]) -> None:
    full = [{"status": "found", "source": "musicbrainz", "fetched_at": START, **r} for r in rows]
    table = pa.Table.from_pylist(full, schema=schemas.MUSICBRAINZ_ARTISTS)
    target = lake().dated_partition(runs.MB_ARTISTS, DAY)
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, target)


def test_origins_are_geocoded_with_unicode_and_no_result(enriched: Path) -> None:
    """Begin areas become coordinates, city, region, ISO code; 'no result' is not_found."""
    write_plays([(None, "A", 3), (None, "B", 2), (None, "C", 1), (None, "D", 1)])
    _mb_partition(
        [
            {"lookup_key": "name:a", "begin_area_name": "Hisarya", "country": "BG"},
            {"lookup_key": "name:b", "begin_area_name": "Bruxelles - Brussel", "area_iso": "BE"},
            {"lookup_key": "name:c", "area_name": "Nowhere Town", "area_iso": "NO"},
            {"lookup_key": "name:d"},  # an artist with no area: nothing to geocode
        ]
    )
    clock = FakeTime(START)
    with VCR.use_cassette("geocode.yaml"):
        result = runs.run_places(ctx(clock))
    rows = {r["place_key"]: r for r in land(result, [runs.GEO_PLACES])}
    assert set(rows) == {"Hisarya|BG", "Bruxelles - Brussel|BE", "Nowhere Town|NO"}
    bg = rows["Hisarya|BG"]
    assert (bg["latitude"], bg["longitude"]) == (42.5132789, 24.6948452)
    assert (bg["city"], bg["region"], bg["country_code"]) == ("Hisarya", "Plovdiv", "BG")
    be = rows["Bruxelles - Brussel|BE"]
    assert be["region"] == "Région de Bruxelles-Capitale - Brussels Hoofdstedelijk Gewest"
    assert be["country"] == "België / Belgique / Belgien"
    assert rows["Nowhere Town|NO"]["status"] == "not_found"
    assert clock.sleeps == [1.1, 1.1]  # 1 request per second plus the 10% margin


def test_nominatim_long_retry_after_is_not_cached_as_no_result(enriched: Path) -> None:
    """A 429 from Nominatim pauses geocoding; the place is not recorded as 'not found'."""
    write_plays([(None, "A", 3)])
    _mb_partition([{"lookup_key": "name:a", "begin_area_name": "Hisarya", "country": "BG"}])
    clock = FakeTime(START)
    with VCR.use_cassette("geocode_retry_after_13h.yaml"):
        result = runs.run_places(ctx(clock))
    assert land(result, [runs.GEO_PLACES]) == []
    assert result.report.resume_at == (START + dt.timedelta(hours=13)).isoformat()


def _save_poll(name: str) -> None:
    target = lake().raw_recently_played_root / "account=me" / f"date={DAY}" / "poll-1.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "spotify_api" / name, target)


def test_recently_played_is_harvested_without_calls_and_keeps_every_artist(
    enriched: Path,
) -> None:
    """Polled tracks give tracks/albums/artists for free; multi-artist credits stay whole."""
    _save_poll("java_recently_played_limit2_2023.json")
    write_plays([("7vqcDtNvoJn5pXhktc8qe8", "Maceo Plex", 1), ("4rERaNiKlILD603GJvdEvm", "x", 1)])
    result = runs.run_catalogue(ctx(FakeTime(START)), token=None)
    order = [runs.ALBUMS, runs.ARTISTS, runs.TRACKS]
    tracks = {r["track_id"]: r for r in land(result, order)}
    assert tracks["4rERaNiKlILD603GJvdEvm"]["artist_names"] == ["Ben Böhmer", "Romain Garcia"]
    assert {r["source"] for r in tracks.values()} == {"recently_played"}
    assert "no Spotify token provider" in result.report.stopped
    assert (result.report.calls, result.report.harvested, result.report.hit_rate) == (0, 2, 1.0)
    again = runs.run_catalogue(ctx(FakeTime(), DAY + dt.timedelta(days=1)), token=None)
    assert again.report.hit_rate == 1.0  # both tracks known: nothing to fetch
    again.state.close()  # type: ignore[union-attr]


def test_spotify_catalogue_fetches_per_item_and_stops_on_quota(
    enriched: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET tracks/{id} lands the track; a 13-hour 429 on the artist ends the run with resume_at."""
    set_config(monkeypatch, spotify_catalogue__min_interval_seconds=0)
    write_plays([("0eGsygTp906u18L0Oimnem", "The Killers", 200_000)])
    with VCR.use_cassette("spotify_track_then_quota.yaml") as cassette:
        result = runs.run_catalogue(ctx(FakeTime(START)), token=lambda: "secret-token")
    assert all("secret-token" not in json.dumps(r) for r in result.responses)
    assert cassette.play_count == 2
    tracks = land(result, [runs.ALBUMS, runs.ARTISTS, runs.TRACKS])
    assert [(t["track_id"], t["isrc"], t["status"]) for t in tracks] == [
        ("0eGsygTp906u18L0Oimnem", "USIR20400274", "found")
    ]
    assert result.report.resume_at == (START + dt.timedelta(hours=13)).isoformat()
    artists = pq.read_table(lake().dated_partition(runs.ARTISTS, DAY)).to_pylist()
    assert [(a["artist_id"], a["status"]) for a in artists] == [("0C0XlULifJtAgn6ZNCW2eu", "found")]


def test_unusable_answers_fail_their_key_and_the_run_goes_on(
    enriched: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mirror's answers no real one has: a list for a track; a track whose name cannot be
    written, whose popularity is infinite, whose artists are an object; an album whose ID is a
    number. Before, the first one ended the run with a traceback (and every later run, before
    any answer was kept); now that key fails (asked again after its back-off), the odd fields
    are null, and every answer lands."""
    set_config(monkeypatch, spotify_catalogue__min_interval_seconds=0)
    write_plays(
        [
            ("0eGsygTp906u18L0Oimnem", "The Killers", 300_000),
            ("1KGi9sZVMeszgZOWivFpxs", "The Killers", 200_000),
        ]
    )
    with VCR.use_cassette("spotify_hostile_answers.yaml") as cassette:
        result = runs.run_catalogue(ctx(FakeTime(START)), token=lambda: "secret-token")
    assert cassette.play_count == 3
    tracks = {t["track_id"]: t for t in land(result, [runs.ALBUMS, runs.ARTISTS, runs.TRACKS])}
    assert tracks["0eGsygTp906u18L0Oimnem"]["status"] == "failed"
    assert (result.report.failed, result.report.found) == (1, 2)
    other = tracks["1KGi9sZVMeszgZOWivFpxs"]
    assert other["status"] == "found"
    assert (other["track_name"], other["popularity"], other["isrc"]) == (None, None, None)
    assert other["artist_ids"] == [] and other["duration_ms"] == 222_075
    albums = pq.read_table(lake().dated_partition(runs.ALBUMS, DAY)).to_pylist()
    fetched = [a for a in albums if a["source"] == "spotify_api" and a["label"] is None]
    assert [(a["album_id"], a["album_name"]) for a in fetched][-1:] == [
        ("6TJmQnO44YE5BtTxH8pop1", None)
    ]
    state = runs.open_state(lake(), "spotify_api")
    try:
        error = state.con.execute(
            "select last_error from lookups where entity = 'track' and key = ?",
            ("0eGsygTp906u18L0Oimnem",),
        ).fetchone()[0]
        assert "unusable answer" in error and "JSON list, not an object" in error
        assert not state.is_due("track", "0eGsygTp906u18L0Oimnem", START)  # after its back-off
    finally:
        state.close()


def test_spotify_linked_artist_falls_back_to_name_and_keeps_its_id(enriched: Path) -> None:
    """No MusicBrainz link for the Spotify artist (404): a confident name match, ID kept; the
    export's name-only plays of the same artist are folded into it (asked once)."""
    track = {
        "track_id": "0eGsygTp906u18L0Oimnem",
        "artist_ids": ["0C0XlULifJtAgn6ZNCW2eu"],
        "artist_names": ["Burzum"],
        "status": "found",
        "source": "spotify_api",
        "fetched_at": START,
    }
    target = lake().dated_partition(runs.TRACKS, DAY)
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist([track], schema=schemas.SPOTIFY_TRACKS), target)
    write_plays([("0eGsygTp906u18L0Oimnem", "Burzum", 200_000), (None, "Burzum", 100_000)])
    with VCR.use_cassette("spotify_link_missing_then_name.yaml"):
        result = runs.run_artists(ctx(FakeTime(START)))
    (row,) = land(result, [runs.MB_ARTISTS])
    assert (row["lookup_key"], row["spotify_artist_id"]) == ("0C0XlULifJtAgn6ZNCW2eu",) * 2
    assert (row["match_method"], row["mbid"]) == (
        "name_search",
        "49cd96a6-42c3-44f6-ba2a-cd9301046b96",
    )
    assert "no MusicBrainz artist links this Spotify artist" in row["match_note"]


# ---------------------------------------------------------------------------------------------
# Issue 13: one origin key, geocoding by country and type, Retry-After, state vs lake, reuse
# ---------------------------------------------------------------------------------------------


def test_real_search_shape_gives_the_origin_key_geocoding_uses(enriched: Path) -> None:
    """Burzum's real search answer (begin area Bergen, a City without ISO codes) stores the
    origin key "Bergen|", and geocoding asks for exactly that place as ``city=Bergen``."""
    write_plays([(None, "Burzum", 300_000)])
    clock = FakeTime(START)
    with VCR.use_cassette("name_search_genres.yaml"):
        (row,) = land(runs.run_artists(ctx(clock)), [runs.MB_ARTISTS])
    assert (row["begin_area_type"], row["begin_area_iso"]) == ("City", None)
    assert row["origin_place_key"] == "Bergen|"
    with VCR.use_cassette("geocode_bergen.yaml") as cassette:
        (place,) = land(runs.run_places(ctx(clock)), [runs.GEO_PLACES])
    assert cassette.play_count == 1
    assert (place["place_key"], place["status"], place["country_code"]) == (
        "Bergen|",
        "found",
        "NO",
    )
    assert place["query"] == "city=Bergen"


def test_geocoding_asks_by_type_and_country_and_rejects_another_country(enriched: Path) -> None:
    """A City is asked as ``city=`` within its country; an answer from another country (Brussels
    for a French artist) is not taken as the artist's origin."""
    write_plays([(None, "A", 3), (None, "B", 2)])
    _mb_partition(
        [
            {
                "lookup_key": "name:a",
                "begin_area_name": "Hisarya",
                "begin_area_type": "City",
                "country": "BG",
            },
            {"lookup_key": "name:b", "begin_area_name": "Bruxelles - Brussel", "country": "FR"},
        ]
    )
    with VCR.use_cassette("geocode_typed_and_other_country.yaml") as cassette:
        result = runs.run_places(ctx(FakeTime(START)))
    rows = {r["place_key"]: r for r in land(result, [runs.GEO_PLACES])}
    assert cassette.play_count == 2
    assert rows["Hisarya|BG"]["status"] == "found"
    assert rows["Hisarya|BG"]["query"] == "city=Hisarya&countrycodes=bg"
    assert rows["Bruxelles - Brussel|FR"]["status"] == "not_found"
    assert rows["Bruxelles - Brussel|FR"]["latitude"] is None


def test_nominatim_retry_after_20_is_sat_out_before_the_retry(enriched: Path) -> None:
    """A 429 with Retry-After: 20 (under the 60 s maximum) waits 20 s, not geopy's 5 s."""
    write_plays([(None, "A", 3)])
    _mb_partition([{"lookup_key": "name:a", "begin_area_name": "Hisarya", "country": "BG"}])
    clock = FakeTime(START)
    with VCR.use_cassette("geocode_retry_after_20.yaml") as cassette:
        result = runs.run_places(ctx(clock))
    (row,) = land(result, [runs.GEO_PLACES])
    assert cassette.play_count == 2 and row["status"] == "found"
    assert clock.sleeps == [20.0]
    assert result.report.resume_at is None


def test_a_deleted_lookup_partition_is_asked_again_not_left_empty(enriched: Path) -> None:
    """Deleting the day's MusicBrainz partition and rerunning the day asks again: the answer
    lands again instead of 0 rows and 0 calls because the state still says found."""
    write_plays([(None, "Burzum", 300_000)])
    clock = FakeTime(START)
    with VCR.use_cassette("name_search_genres.yaml"):
        land(runs.run_artists(ctx(clock)), [runs.MB_ARTISTS])
    lake().dated_partition(runs.MB_ARTISTS, DAY).unlink()
    with VCR.use_cassette("name_search_genres.yaml") as cassette:
        again = runs.run_artists(ctx(clock))
    (row,) = land(again, [runs.MB_ARTISTS])
    assert (row["mbid"], row["status"]) == ("49cd96a6-42c3-44f6-ba2a-cd9301046b96", "found")
    assert (again.report.forgotten, again.report.calls, cassette.play_count) == (1, 1, 1)


def test_a_damaged_lookup_state_is_set_aside_and_rebuilt_from_the_lake_without_calls(
    enriched: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A state file SQLite cannot open (overwritten, cut short) no longer fails every run: it
    is kept as .unreadable and the answers come back from the lake, so the next run asks
    nothing again (the daily quotas) and says what happened."""
    write_plays([(None, "Burzum", 300_000)])
    clock = FakeTime(START)
    with VCR.use_cassette("name_search_genres.yaml"):
        land(runs.run_artists(ctx(clock)), [runs.MB_ARTISTS])
    path = lake().lookup_state_db("musicbrainz")
    before = path.read_bytes()
    path.write_bytes(before[:3000] + b"overwritten" * 100)

    day2 = DAY + dt.timedelta(days=1)
    with VCR.use_cassette("no_interactions.yaml"):
        again = runs.run_artists(ctx(clock, day2))
    assert land(again, [runs.MB_ARTISTS], day2) == []
    assert (again.report.calls, again.report.forgotten) == (0, 0)
    aside = path.with_name(path.name + ".unreadable")
    assert aside.read_bytes() == before[:3000] + b"overwritten" * 100
    assert "lookup state unreadable" in caplog.text and "1 answers" in caplog.text
    state = runs.open_state(lake(), "musicbrainz")
    try:
        assert state.counts() == {("artist", "found"): 1}
    finally:
        state.close(commit=False)


def test_an_artist_found_by_name_is_not_asked_again_for_its_spotify_id(enriched: Path) -> None:
    """Found by name first; once its Spotify ID arrives (a track lookup), 0 calls: the name
    answer is reused under the ID and dim_artist can join either."""
    write_plays([(None, "Burzum", 300_000)])
    clock = FakeTime(START)
    with VCR.use_cassette("name_search_genres.yaml"):
        first = runs.run_artists(ctx(clock))
    land(first, [runs.MB_ARTISTS])
    assert first.report.calls == 1
    track = {
        "track_id": "0eGsygTp906u18L0Oimnem",
        "artist_ids": ["0C0XlULifJtAgn6ZNCW2eu"],
        "artist_names": ["Burzum"],
        "status": "found",
        "source": "spotify_api",
        "fetched_at": START,
    }
    target = lake().dated_partition(runs.TRACKS, DAY)
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist([track], schema=schemas.SPOTIFY_TRACKS), target)
    write_plays([("0eGsygTp906u18L0Oimnem", "Burzum", 200_000), (None, "Burzum", 100_000)])
    day2 = DAY + dt.timedelta(days=1)
    with VCR.use_cassette("no_interactions.yaml"):
        second = runs.run_artists(ctx(clock, day2))
    (row,) = land(second, [runs.MB_ARTISTS], day2)
    assert (second.report.calls, second.report.reused) == (0, 1)
    assert (row["lookup_key"], row["mbid"], row["origin_place_key"]) == (
        "0C0XlULifJtAgn6ZNCW2eu",
        "49cd96a6-42c3-44f6-ba2a-cd9301046b96",
        "Bergen|",
    )
    assert "same artist as name:burzum" in row["match_note"]


def test_not_found_rows_carry_no_score_of_another_artist(
    enriched: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'Dynamo' is ambiguous: the row says why in its note but has no match_score."""
    set_config(monkeypatch, musicbrainz__format="xml")
    write_plays([(None, "Dynamo", 100_000)])
    with VCR.use_cassette("budget_run2.yaml"):
        (row,) = land(runs.run_artists(ctx(FakeTime(START))), [runs.MB_ARTISTS])
    assert (row["status"], row["match_score"]) == ("not_found", None)
    assert "scores 35-44" in row["match_note"]


def test_a_second_run_on_the_same_day_adds_to_the_partition(
    enriched: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs of one day (every cycle harvests): the first run's answers stay in the file."""
    write_plays([(None, "Burzum", 300_000)])
    clock = FakeTime(START)
    with VCR.use_cassette("name_search_genres.yaml"):
        land(runs.run_artists(ctx(clock)), [runs.MB_ARTISTS])
    write_plays([(None, "Burzum", 300_000), (None, "Dynamo Go", 100_000)])
    set_config(monkeypatch, musicbrainz__format="xml")
    with VCR.use_cassette("budget_run1.yaml"):
        rows = land(runs.run_artists(ctx(clock)), [runs.MB_ARTISTS])
    assert [r["query_name"] for r in rows] == ["Burzum", "Dynamo Go"]
