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
from tests.faults.helpers import temp_leftovers, unreadable_visible_files
from tests.faults.http_faults import FAULTS, FakeTime, fault, faulty_services, ok, reply
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

#: (status in the message, words a user can act on) per fault.
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


def assert_kept(before: dict[str, str], lake: Path) -> None:
    """Every file that was there before is still there, byte for byte."""
    now = files_under(lake)
    assert {k: now.get(k) for k in before} == before


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
    monkeypatch.setattr(spotify_tasks, "utcnow", lambda: real_now() + dt.timedelta(hours=1))
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
