"""Each service x each fault (500, 503, 429, read timeout, truncated 200), through the real tasks.

Services: Spotify recently-played (``PollRecentlyPlayed``, two accounts), Spotify catalogue
(``EnrichCatalogue``), MusicBrainz (``EnrichArtists``), Nominatim (``GeocodeOrigins``), all run by
``luigi.build(..., local_scheduler=True)`` with HTTP replayed from cassettes built out of the real
payloads in tests/fixtures. The fault hits one account, or the second of three entities (the
first is answered before it). Each scenario checks what a user notices:

* the task completes and records the failure with a message naming the service and the status;
* the other account / the other lookups are still done (a 429 ends the run by design: it stops);
* what had landed before is still there and no half-written file is visible;
* a later run against a healthy service completes the work: the end state equals a clean run's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from pipeline.io.parquet import read_provenance, write_parquet_atomic
from pipeline.settings import reload_settings
from tests.conftest import FIXTURES, run_luigi
from tests.fake_time import FakeTime
from tests.faults.helpers import temp_leftovers, unreadable_visible_files
from tests.faults.http_faults import FAULTS, fault, faulty_services, ok, reply
from tests.faults.http_faults import write_cassette as cassette_file
from tests.spotify_support import CLIENT_ID, CLIENT_SECRET, player, write_token

D1 = dt.date(2026, 11, 24)
D2 = D1 + dt.timedelta(days=1)
MB = "https://musicbrainz.org/ws/2"
NOM = "https://nominatim.openstreetmap.org/search"
SP = "https://api.spotify.com/v1"
RECENTLY_PLAYED = f"{SP}/me/player/recently-played?limit=50"
ZMB3 = (FIXTURES / "spotify" / "zmb3_recently_played_first5.json").read_text(encoding="utf-8")
JAVA = (FIXTURES / "spotify" / "java_recently_played_limit2_2023.json").read_text(encoding="utf-8")

#: Three played tracks, most listened first: (track id, artist, ms played).
PLAYS = [
    ("0eGsygTp906u18L0Oimnem", "Mayhem", 300_000),
    ("1lDWb6b6ieDQ2xT7ewTC3G", "Burzum", 200_000),
    ("4uLU6hMCjMI75M1A2tKUQC", "Darkthrone", 100_000),
]

#: What the recorded error message must contain for each fault (the status, or what happened).
MESSAGE = {
    "500": "500",
    "503": "503",
    "429": "429",
    "timeout": "timed out",
    "truncated": "JSON",
}


# ---------------------------------------------------------------------------------------------
# Shared set-up
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def lake_dir(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A lake with enrichment on, app credentials set, and no real backoff sleeps."""
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", CLIENT_SECRET)
    for name, value in {
        "ENRICHMENT__ENABLED": "true",
        "SPOTIFY__BACKOFF_S": "0",  # the poll's HttpClient uses real time.sleep
        "SPOTIFY_CATALOGUE__FETCH_ARTISTS": "false",
        "SPOTIFY_CATALOGUE__FETCH_ALBUMS": "false",
    }.items():
        monkeypatch.setenv(f"MUSIC_TRACKER__{name}", value)
    reload_settings()
    return data_dir


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    """Enrichment runs use a fake clock/sleep/now (the RunContext seams): nothing sleeps."""
    from pipeline.enrich import runs

    clock = FakeTime()

    class FakeTimeContext(runs.RunContext):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("now", clock.now)
            kwargs.setdefault("clock", clock.clock)
            kwargs.setdefault("sleep", clock.sleep)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(runs, "RunContext", FakeTimeContext)
    return clock


def import_plays(tmp_path: Path) -> None:
    """Import an extended-history export with PLAYS on D1 (the real ImportExport task)."""
    from pipeline.tasks import ImportExport

    template = json.loads(
        (FIXTURES / "exports" / "efrrowini_Streaming_History_Audio_2023_first20.json").read_text()
    )[0]
    rows = []
    for i, (track_id, artist, ms) in enumerate(PLAYS):
        row = dict(template)
        row.update(
            ts=f"{D1}T12:0{i}:00Z",
            ms_played=ms,
            master_metadata_track_name=f"Track {i}",
            master_metadata_album_artist_name=artist,
            master_metadata_album_album_name=f"Album {i}",
            spotify_track_uri=f"spotify:track:{track_id}",
        )
        rows.append(row)
    export = tmp_path / "Streaming_History_Audio_2026_0.json"
    export.write_text(json.dumps(rows), encoding="utf-8")
    assert run_luigi([ImportExport(file=str(export), account="me")])


def lookup_state(lake: Path, service: str) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(entity, key) -> (status, last_error) from state/lookups/<service>.sqlite."""
    con = sqlite3.connect(lake / "state" / "lookups" / f"{service}.sqlite")
    try:
        rows = con.execute("select entity, key, status, last_error from lookups").fetchall()
    finally:
        con.close()
    return {(e, k): (s, err) for e, k, s, err in rows}


def service_value(lake: Path, service: str, name: str) -> str | None:
    con = sqlite3.connect(lake / "state" / "lookups" / f"{service}.sqlite")
    try:
        row = con.execute("select value from service where name = ?", (name,)).fetchone()
    finally:
        con.close()
    return None if row is None else row[0]


def partition(lake: Path, dataset: str, day: dt.date) -> Path:
    return lake / "staged" / dataset / "v1" / f"date={day}" / "part-0.parquet"


def rows_of(lake: Path, dataset: str, day: dt.date) -> list[dict[str, Any]]:
    return pq.read_table(partition(lake, dataset, day)).to_pylist()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_under(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): digest(p) for p in sorted(root.rglob("*")) if p.is_file()}


def assert_nothing_half_written(lake: Path) -> None:
    assert unreadable_visible_files(lake) == []
    assert temp_leftovers(lake) == []


# ---------------------------------------------------------------------------------------------
# Spotify recently-played: the fault hits account "me"; "partner" polls as usual
# ---------------------------------------------------------------------------------------------


def poll_interaction(account: str, body_or_fault: dict[str, Any]) -> dict[str, Any]:
    body_or_fault["request"]["headers"] = {"Authorization": [f"<redacted:{account}>"]}
    return body_or_fault


def slot(n: int) -> dt.datetime:
    return dt.datetime(2026, 11, 25, 10, 0) + dt.timedelta(minutes=30 * n)


def poll(cassette: Path, n: int) -> tuple[bool, Any, Any]:
    from pipeline.tasks import PollRecentlyPlayed

    base = ("method", "scheme", "host", "port", "path", "query", "authorization")
    with faulty_services(cassette, player("faults", match_account=True), match_on=base) as (
        played,
        injected,
    ):
        done = run_luigi([PollRecentlyPlayed(slot=slot(n))])
    return done, played, injected


def poll_state(lake: Path, account: str) -> dict[str, Any]:
    return json.loads((lake / "state" / "spotify" / f"{account}.json").read_text())


def polled_ids(lake: Path, account: str) -> set[str]:
    files = (lake / "staged" / "polls" / "v1").glob(f"account={account}/date=*/*.parquet")
    return {pid for f in files for pid in pq.read_table(f)["play_id"].to_pylist()}


def staged_ids(lake: Path) -> set[str]:
    files = (lake / "staged" / "plays" / "v1").glob("date=*/*.parquet")
    return {pid for f in files for pid in pq.read_table(f)["play_id"].to_pylist()}


def run_polls(
    tmp_path: Path, fault_kind: str | None, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """Poll 0 healthy; poll 1 with ``fault_kind`` on "me"; poll 2 healthy, an hour later."""
    import pipeline.ingest.polls as polls
    import pipeline.tasks.spotify as spotify_tasks

    lake = Path(str(tmp_path / "data"))
    write_token("me")
    write_token("partner")
    out: dict[str, Any] = {}
    first = cassette_file(
        tmp_path / "poll0.yaml",
        [
            poll_interaction("me", ok(RECENTLY_PLAYED, ZMB3)),
            poll_interaction("partner", ok(RECENTLY_PLAYED, JAVA)),
        ],
    )
    assert poll(first, 0)[0]
    out["after_first"] = {
        k: v for k, v in files_under(lake).items() if k.startswith(("raw/", "staged/"))
    }
    me_answer = (
        fault(RECENTLY_PLAYED, fault_kind, JAVA) if fault_kind else ok(RECENTLY_PLAYED, JAVA)
    )
    second = cassette_file(
        tmp_path / "poll1.yaml",
        [poll_interaction("me", me_answer), poll_interaction("partner", ok(RECENTLY_PLAYED, JAVA))],
    )
    done, played, injected = poll(second, 1)
    out.update(done=done, plays=played.play_count, timeouts=injected.timeouts)
    out["me"], out["partner"] = poll_state(lake, "me"), poll_state(lake, "partner")
    out["me_ids_after_fault"] = polled_ids(lake, "me")
    now = files_under(lake)
    out["changed_by_fault"] = sorted(k for k, v in out["after_first"].items() if now.get(k) != v)
    out["half_written_after_fault"] = unreadable_visible_files(lake) + temp_leftovers(lake)
    real_now = spotify_tasks.utcnow
    for module in (polls, spotify_tasks):  # the poll's clock and its task's (complete())
        monkeypatch.setattr(module, "utcnow", lambda: real_now() + dt.timedelta(hours=1))
    third = cassette_file(
        tmp_path / "poll2.yaml",
        [
            poll_interaction("me", ok(RECENTLY_PLAYED, JAVA)),
            poll_interaction("partner", ok(RECENTLY_PLAYED, JAVA)),
        ],
    )
    out["healed"] = poll(third, 2)[0]
    return out


@pytest.mark.parametrize("kind", FAULTS)
def test_spotify_poll_fault(
    kind: str, lake_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A faulty poll of one account is recorded with a clear message; the other account lands;
    earlier plays and raw responses stay; the next healthy poll lands what was missed."""
    out = run_polls(tmp_path, kind, monkeypatch)
    assert out["done"]  # the poll task completes: one account's problem is recorded, not raised
    me = out["me"]
    assert me["last_poll_status"] == "error"
    message = me["last_error"]["message"]
    assert "spotify" in message and MESSAGE[kind] in message, message
    assert (
        me["last_error"]["kind"]
        == {
            "500": "server_error",
            "503": "server_error",
            "429": "rate_limited",
            "timeout": "no_answer",
            "truncated": "bad_response",
        }[kind]
    )
    if kind == "429":
        assert me["resume_after"]
    if kind == "timeout":
        assert out["timeouts"] == 4  # the first try and three retries, each a read timeout
    if kind == "truncated":
        kept = lake_dir / me["last_raw"]
        assert kept.read_text(encoding="utf-8") == JAVA[: len(JAVA) // 2]  # kept, as received
        assert me["last_raw"] in message
    # The other account polled normally in the same run.
    partner = out["partner"]
    assert partner["last_poll_status"] == "ok" and partner["last_error"] is None
    # What the first poll landed is untouched; nothing new for "me" appeared.
    assert out["changed_by_fault"] == []
    assert len(out["me_ids_after_fault"]) == 5
    assert out["half_written_after_fault"] == []
    # An hour later, with Spotify healthy again, the poll lands what the fault kept back.
    assert out["healed"]
    healed = poll_state(lake_dir, "me")
    assert healed["last_poll_status"] == "ok" and healed["last_error"] is None
    assert polled_ids(lake_dir, "me") >= out["me_ids_after_fault"]
    assert len(polled_ids(lake_dir, "me")) == 5 + 2  # as three healthy polls (the test below)
    assert polled_ids(lake_dir, "me") | polled_ids(lake_dir, "partner") <= staged_ids(lake_dir)
    assert_nothing_half_written(lake_dir)


def test_spotify_polls_without_faults(
    lake_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reference: the same three polls, all healthy, land 5 + 2 plays for "me"."""
    out = run_polls(tmp_path, None, monkeypatch)
    assert out["done"] and out["healed"]
    assert out["me"]["last_error"] is None
    assert len(polled_ids(lake_dir, "me")) == 5 + 2
    assert len(polled_ids(lake_dir, "partner")) == 2


# ---------------------------------------------------------------------------------------------
# Enrichment: Spotify catalogue, MusicBrainz, Nominatim. Three entities; the fault hits the second
# ---------------------------------------------------------------------------------------------


def nominatim_url(q: str, cc: str) -> str:
    return f"{NOM}?q={q}&format=json&limit=1&addressdetails=1&accept-language=en&countrycodes={cc}"


def mb_search_url(name: str) -> str:
    return f"{MB}/artist/?fmt=json&limit=10&query=artist%3A%28{name.lower()}%29"


def _fixture(path: str) -> str:
    return (FIXTURES / path).read_text(encoding="utf-8")


def _track(i: int) -> str:
    return json.dumps(json.loads(_fixture("spotify_api/zmb3_get_several_tracks.json"))["tracks"][i])


MB_SEARCH = "musicbrainz/mb_json_artist_search_burzum_2021.json"
NOT_FOUND_404 = '{"error": {"status": 404, "message": "Non existing id"}}'

#: service -> (task, state db, entity, dataset, [(key, url, healthy answer, expected status)]).
ENRICHMENT: dict[str, tuple[str, str, str, str, list[tuple[str, str, Any, str]]]] = {
    "spotify_catalogue": (
        "EnrichCatalogue",
        "spotify_api",
        "track",
        "lookups/spotify_tracks",
        [
            (PLAYS[0][0], f"{SP}/tracks/{PLAYS[0][0]}", lambda: _track(0), "found"),
            (PLAYS[1][0], f"{SP}/tracks/{PLAYS[1][0]}", lambda: _track(1), "found"),
            (PLAYS[2][0], f"{SP}/tracks/{PLAYS[2][0]}", None, "not_found"),  # 404: removed
        ],
    ),
    "musicbrainz": (
        "EnrichArtists",
        "musicbrainz",
        "artist",
        "lookups/musicbrainz_artists",
        [
            # One real search answer (Burzum) for every name: the others do not match it.
            ("name:mayhem", mb_search_url("Mayhem"), lambda: _fixture(MB_SEARCH), "not_found"),
            ("name:burzum", mb_search_url("Burzum"), lambda: _fixture(MB_SEARCH), "found"),
            (
                "name:darkthrone",
                mb_search_url("Darkthrone"),
                lambda: _fixture(MB_SEARCH),
                "not_found",
            ),
        ],
    ),
    "nominatim": (
        "GeocodeOrigins",
        "nominatim",
        "place",
        "lookups/geo_places",
        [
            (
                "Hisarya|BG",
                nominatim_url("Hisarya", "bg"),
                lambda: _fixture("nominatim/php_openmapclienttest_search_hisarya_bulgaria.json"),
                "found",
            ),
            (
                "Bruxelles - Brussel|BE",
                nominatim_url("Bruxelles+-+Brussel", "be"),
                lambda: _fixture(
                    "nominatim/"
                    "geocoderphp_nominatim_search_jsonv2_addressdetails_extratags_brussels.json"
                ),
                "found",
            ),
            ("Nowhere Town|NO", nominatim_url("Nowhere+Town", "no"), lambda: "[]", "not_found"),
        ],
    ),
}

#: Origins of the three played artists (what MusicBrainz found earlier), for geocoding.
ORIGINS = [
    {"lookup_key": "name:mayhem", "begin_area_name": "Hisarya", "country": "BG"},
    {"lookup_key": "name:burzum", "begin_area_name": "Bruxelles - Brussel", "area_iso": "BE"},
    {"lookup_key": "name:darkthrone", "area_name": "Nowhere Town", "area_iso": "NO"},
]


def healthy(url: str, answer: Any) -> dict[str, Any]:
    if answer is None:
        return reply(url, 404, "Not Found", NOT_FOUND_404)
    return ok(url, answer())


def _origins_known() -> None:
    """The MusicBrainz partitions GeocodeOrigins reads (its EnrichArtists input is then done)."""
    import pyarrow as pa

    from pipeline import schemas
    from pipeline.enrich import runs
    from pipeline.paths import lake

    at = dt.datetime(2026, 11, 24, 6, 0, tzinfo=dt.UTC)
    rows = [{"status": "found", "source": "musicbrainz", "fetched_at": at, **r} for r in ORIGINS]
    for day, items in ((D1, rows), (D2, [])):
        table = pa.Table.from_pylist(items, schema=schemas.MUSICBRAINZ_ARTISTS)
        write_parquet_atomic(lake().dated_partition(runs.MB_ARTISTS, day), table)


def run_enrichment(
    service: str, fault_kind: str | None, tmp_path: Path, fake_time: FakeTime
) -> dict[str, Any]:
    """Import PLAYS; enrich D1 with ``fault_kind`` on the second entity; a day later, D2 healthy."""
    import pipeline.tasks as tasks

    task_name, db, entity, dataset, entities = ENRICHMENT[service]
    task = getattr(tasks, task_name)
    lake = tmp_path / "data"
    write_token("me")  # the catalogue's token (no refresh: it is valid for an hour)
    import_plays(tmp_path)
    if service == "nominatim":
        _origins_known()
    (a_key, a_url, a_ans, _), (b_key, b_url, b_ans, _), (c_key, c_url, c_ans, _) = entities
    b_healthy = healthy(b_url, b_ans)
    b_answer = (
        fault(b_url, fault_kind, b_healthy["response"]["body"]["string"])
        if fault_kind
        else b_healthy
    )
    first = cassette_file(
        tmp_path / "run1.yaml", [healthy(a_url, a_ans), b_answer, healthy(c_url, c_ans)]
    )
    out: dict[str, Any] = {}
    with faulty_services(first) as (played, injected):
        out["done"] = run_luigi([task(date=D1)])
    out["timeouts"] = injected.timeouts
    out["played"] = [played.play_counts[i] for i in range(3)]
    out["state"] = lookup_state(lake, db)
    out["resume_at"] = service_value(lake, db, "resume_at")
    out["pause_reason"] = service_value(lake, db, "pause_reason")
    out["rows"] = rows_of(lake, dataset, D1)
    out["report"] = (read_provenance(partition(lake, dataset, D1)) or {}).get("run", {})
    out["raw"] = sorted((lake / "raw" / db).rglob("*.jsonl"))
    out["half_written"] = unreadable_visible_files(lake) + temp_leftovers(lake)
    before = {
        k: v for k, v in files_under(lake).items() if k.startswith(("raw/", "staged/lookups"))
    }
    # A day later the service is healthy; the first entity is known and must not be asked again.
    fake_time.advance(days=1)
    second = cassette_file(tmp_path / "run2.yaml", [healthy(b_url, b_ans), healthy(c_url, c_ans)])
    with faulty_services(second) as (played, _):
        out["healed"] = run_luigi([task(date=D2)])
    now = files_under(lake)
    out["changed_by_later_run"] = sorted(k for k, v in before.items() if now.get(k) != v)
    out["final_state"] = {k: s for (e, k), (s, _) in lookup_state(lake, db).items() if e == entity}
    latest: dict[str, dict[str, Any]] = {}
    key_field = {"track": "track_id", "artist": "lookup_key", "place": "place_key"}[entity]
    for day in (D1, D2):
        for row in rows_of(lake, dataset, day):
            latest[row[key_field]] = row  # D2 after D1: the latest lookup per entity wins
    out["final_rows"] = {k: r["status"] for k, r in latest.items()}
    out["half_written_end"] = unreadable_visible_files(lake) + temp_leftovers(lake)
    out["keys"] = (a_key, b_key, c_key)
    out["expected"] = {k: status for k, _, _, status in entities}
    return out


@pytest.mark.parametrize("service", sorted(ENRICHMENT))
def test_enrichment_without_faults(
    service: str, lake_dir: Path, tmp_path: Path, fake_time: FakeTime
) -> None:
    """The reference: a healthy service answers all three entities in the first run."""
    out = run_enrichment(service, None, tmp_path, fake_time)
    assert out["done"] and out["healed"]
    entity = ENRICHMENT[service][2]
    assert {k: s for (e, k), (s, _) in out["state"].items() if e == entity} == out["expected"]
    assert out["final_state"] == out["expected"] == out["final_rows"]


@pytest.mark.parametrize("kind", FAULTS)
@pytest.mark.parametrize("service", sorted(ENRICHMENT))
def test_enrichment_fault(
    service: str, kind: str, lake_dir: Path, tmp_path: Path, fake_time: FakeTime
) -> None:
    """A fault on one lookup is recorded with the service and status; the run lands what it
    got; the other lookups go on (a 429 stops the run until resume_at); a later healthy run
    completes the work and ends where a clean run does."""
    out = run_enrichment(service, kind, tmp_path, fake_time)
    entity = ENRICHMENT[service][2]
    a, b, c = out["keys"]
    expected = out["expected"]
    assert out["done"]  # an enrichment problem never fails the task (DbtBuild must still run)
    state = {k: v for (e, k), v in out["state"].items() if e == entity}
    rows = {
        r[{"track": "track_id", "artist": "lookup_key", "place": "place_key"}[entity]]: r
        for r in out["rows"]
    }
    # The lookup before the fault is answered, landed and committed.
    assert state[a][0] == expected[a] and rows[a]["status"] == expected[a]
    assert out["raw"], "the responses of the run are kept under raw/"
    if kind == "429":
        # The run stops at once and pauses the service; nothing is recorded as an answer.
        assert b not in state and c not in state
        assert out["resume_at"] and "429" in (out["pause_reason"] or "")
        assert service_name(service) in out["pause_reason"]
        assert "429" in out["report"]["stopped"]
        assert out["played"] == [1, 1, 0]
    else:
        status, error = state[b]
        assert status == "failed" and rows[b]["status"] == "failed"
        assert service_name(service) in error and MESSAGE[kind] in error, error
        assert state[c][0] == expected[c], "the lookup after the fault still happened"
        assert out["report"]["failed"] == 1
    if kind == "timeout":
        assert out["timeouts"] == out["played"][1] > 1  # retried, each try a read timeout
    assert out["half_written"] == []
    # A day later, healthy: the failed (or never asked) lookups are done, nothing was lost.
    assert out["healed"]
    assert out["changed_by_later_run"] == []
    assert out["final_state"] == expected
    assert out["final_rows"] == expected
    assert out["half_written_end"] == []
    assert max(fake_time.sleeps, default=0) <= 60  # the 120 s Retry-After was never sat out


def service_name(service: str) -> str:
    return {"spotify_catalogue": "spotify_api"}.get(service, service)
