"""Live ingestion end to end: polls replayed from cassettes built on the real payloads."""

from __future__ import annotations

import datetime as dt
import json
import logging
import stat
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from tests.conftest import FIXTURES, run_luigi, utc_days_since
from tests.spotify_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    access_token,
    player,
    refresh_token,
    write_token,
)

MODULE = "test_spotify_polling"
REAL_ZMB3 = FIXTURES / "spotify" / "zmb3_recently_played_first5.json"
REAL_JAVA = FIXTURES / "spotify" / "java_recently_played_limit2_2023.json"


@pytest.fixture
def lake_dir(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh lake with app credentials set and no backoff sleeps."""
    from pipeline import settings

    monkeypatch.setenv("SPOTIFY_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("MUSIC_TRACKER__SPOTIFY__BACKOFF_S", "0")
    settings.reload_settings()
    return data_dir


def cassette(request: pytest.FixtureRequest, match_account: bool = False):
    return player(MODULE, match_account).use_cassette(f"{request.node.originalname}.yaml")


def slot(minute: int) -> dt.datetime:
    return dt.datetime(2026, 11, 25, 10, 0) + dt.timedelta(minutes=30 * minute)


def ingest(account: str, n: int) -> bool:
    from pipeline.tasks import IngestRecentlyPlayed

    return run_luigi([IngestRecentlyPlayed(account=account, slot=slot(n))])


def poll(n: int) -> bool:
    from pipeline.tasks import PollRecentlyPlayed

    return run_luigi([PollRecentlyPlayed(slot=slot(n))])


def state(lake: Path, account: str = "me") -> dict:
    return json.loads((lake / "state" / "spotify" / f"{account}.json").read_text())


def landed(lake: Path, account: str = "me") -> pa.Table:
    files = sorted((lake / "staged" / "polls" / "v1").glob(f"account={account}/date=*/*.parquet"))
    if not files:
        return pa.table({"play_id": pa.array([], pa.string())})
    return pa.concat_tables(pq.read_table(f) for f in files)


def staged_plays(lake: Path) -> pa.Table:
    files = sorted((lake / "staged" / "plays" / "v1").glob("date=*/*.parquet"))
    return pa.concat_tables(pq.read_table(f) for f in files)


def raw_files(lake: Path, account: str = "me") -> list[Path]:
    root = lake / "raw" / "spotify" / "recently_played" / f"account={account}"
    return sorted(root.glob("date=*/*.json"))


def test_first_poll(lake_dir: Path, request: pytest.FixtureRequest) -> None:
    """The first poll keeps the body byte for byte, lands every play and sets the ms cursor."""
    write_token("me")
    started = dt.datetime.now(dt.UTC)
    with cassette(request):
        assert ingest("me", 0)
    raws = raw_files(lake_dir)
    assert len(raws) == 1 and raws[0].read_bytes() == REAL_ZMB3.read_bytes()
    assert raws[0].parent.name in {f"date={day}" for day in utc_days_since(started)}
    plays = landed(lake_dir)
    assert plays.num_rows == 5
    assert set(plays["source"].to_pylist()) == {"api"}
    assert set(plays["ts_precision"].to_pylist()) == {"ms"}
    first = plays.sort_by([("played_at", "descending")]).to_pylist()[0]
    assert first["track_name"] == "The Sound Of Silence"
    assert first["artist_name"] == "Disturbed"
    assert first["album_name"] == "Immortalized"
    assert first["track_id"] == "1Cj2vqUwlJVG27gJrun92y"
    assert first["is_local"] is False
    poll_file = next((lake_dir / "staged/polls/v1/account=me").glob("date=2017-05-27/*.parquet"))
    assert poll_file.stem == state(lake_dir)["last_poll_id"]
    st = state(lake_dir)
    assert st["cursor_ms"] == 1495915674720  # 2017-05-27T20:07:54.720Z, to the millisecond
    assert st["last_poll_status"] == "ok" and st["last_error"] is None
    assert st["plays_last_poll"] == 5 and st["first_authorised_at"]


def test_overlapping_polls(lake_dir: Path, request: pytest.FixtureRequest) -> None:
    """Two polls sharing three items stage each play once."""
    write_token("me")
    with cassette(request):
        assert poll(0)
        assert poll(1)
    assert landed(lake_dir).num_rows == 10
    plays = staged_plays(lake_dir)
    assert plays.num_rows == 10
    assert len(set(plays["play_id"].to_pylist())) == 10
    assert state(lake_dir)["plays_last_poll"] == 4


def test_nothing_new_is_a_noop(lake_dir: Path, request: pytest.FixtureRequest) -> None:
    """A poll with nothing new writes no staged file; a rerun of a slot makes no call at all."""
    from pipeline.tasks import PollRecentlyPlayed, StagePlays
    from pipeline.warehouse.current import staged_fingerprint

    write_token("me")
    with cassette(request):
        assert poll(0)
        from pipeline.paths import lake

        before = staged_fingerprint(lake())
        assert poll(1)
        assert poll(1)  # same slot again: complete, no request (the cassette has none left)
    assert staged_fingerprint(lake()) == before
    assert len(raw_files(lake_dir)) == 1  # the identical second response is not stored twice
    assert state(lake_dir)["plays_last_poll"] == 0
    assert PollRecentlyPlayed(slot=slot(1)).complete()
    assert StagePlays(date=dt.date(2026, 11, 20)).complete()


def test_late_and_out_of_order_items(lake_dir: Path, request: pytest.FixtureRequest) -> None:
    """An item listed late (older than the cursor, previous day) lands and its day is restaged."""
    write_token("me")
    with cassette(request):
        assert poll(0)
        assert poll(1)
    plays = staged_plays(lake_dir)
    by_day: dict[str, int] = {}
    for row in plays.to_pylist():
        day = row["played_at"].date().isoformat()
        by_day[day] = by_day.get(day, 0) + 1
    assert by_day == {"2026-11-19": 1, "2026-11-20": 4}
    assert (lake_dir / "staged/plays/v1/date=2026-11-19/part-0.parquet").exists()
    st = state(lake_dir)
    assert st["cursor_ms"] == 1795133885050  # 2026-11-20T00:18:05.050Z
    assert "last_gap" not in st


def test_gap_is_recorded(lake_dir: Path, request: pytest.FixtureRequest) -> None:
    """A full page of 50 that starts after the cursor records the window as a gap."""
    write_token("me")
    with cassette(request):
        assert ingest("me", 0)
        assert ingest("me", 1)
    gaps = ds.dataset(str(lake_dir / "staged/gaps/v1"), format="parquet").to_table().to_pylist()
    assert len(gaps) == 1
    gap = gaps[0]
    assert gap["account"] == "me"
    assert gap["gap_start"] == dt.datetime(2026, 11, 21, 6, 10, 0, 100000, tzinfo=dt.UTC)
    assert gap["gap_end"] == dt.datetime(2026, 11, 21, 7, 0, 0, 900000, tzinfo=dt.UTC)
    assert landed(lake_dir).num_rows == 53
    assert state(lake_dir)["gaps_detected"] == 1


def test_quota_429_returns_promptly(lake_dir: Path, request: pytest.FixtureRequest) -> None:
    """A 13-hour Retry-After ends the poll at once, records resume_after, and skips next runs."""
    write_token("me")
    with cassette(request):
        started = time.monotonic()
        assert ingest("me", 0)
        elapsed = time.monotonic() - started
        st = state(lake_dir)
        assert ingest("me", 1)  # skipped: no request (the cassette has none left)
    assert elapsed < 5
    resume = dt.datetime.fromisoformat(st["resume_after"])
    expected = dt.datetime.now(dt.UTC) + dt.timedelta(hours=13)
    assert abs((resume - expected).total_seconds()) < 60
    assert st["last_error"]["kind"] == "rate_limited"
    assert "QUOTA_EXCEEDED" in st["last_error"]["message"]
    assert state(lake_dir)["last_poll_status"] == "skipped"
    assert state(lake_dir)["resume_after"] == st["resume_after"]
    assert landed(lake_dir).num_rows == 0


def test_invalid_grant_asks_to_reauthorise(
    lake_dir: Path, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused refresh token says to run `music-tracker auth me` again, once in the log."""
    write_token("me", expired=True)
    with cassette(request), caplog.at_level(logging.INFO, logger="pipeline"):
        assert ingest("me", 0)
    st = state(lake_dir)
    assert st["last_error"]["kind"] == "reauth_required"
    assert "run `music-tracker auth me` again" in st["last_error"]["message"]
    errors = [r for r in caplog.records if "reauth_required" in r.getMessage()]
    assert len(errors) == 1
    _assert_no_secrets(caplog.text, "me")


def test_401_refreshes_and_retries(
    lake_dir: Path, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    """A 401 refreshes the token once and the poll lands; the cache stays 0600, no secret logged."""
    path = write_token("me")
    with cassette(request), caplog.at_level(logging.DEBUG):
        assert ingest("me", 0)
    assert landed(lake_dir).num_rows == 2
    cache = json.loads(path.read_text())
    assert cache["access_token"] == "<scrubbed>"  # the refreshed one from the cassette
    assert cache["refresh_token"] == refresh_token("me")  # kept: the response had none
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    _assert_no_secrets(caplog.text, "me")


def test_5xx_is_retried(lake_dir: Path, request: pytest.FixtureRequest) -> None:
    """502 then 503 are retried and the third answer lands."""
    write_token("me")
    with cassette(request):
        assert ingest("me", 0)
    assert landed(lake_dir).num_rows == 2
    assert state(lake_dir)["last_error"] is None


def test_malformed_json_keeps_raw(lake_dir: Path, request: pytest.FixtureRequest) -> None:
    """A truncated body is kept in raw/ and recorded as a clear error; nothing is staged."""
    write_token("me")
    with cassette(request):
        assert ingest("me", 0)
    raws = raw_files(lake_dir)
    assert len(raws) == 1
    assert raws[0].read_bytes() == REAL_JAVA.read_text(encoding="utf-8")[:10000].encode()
    st = state(lake_dir)
    assert st["last_error"]["kind"] == "bad_response"
    assert "not valid JSON" in st["last_error"]["message"]
    assert st["last_raw"] in st["last_error"]["message"]
    assert landed(lake_dir).num_rows == 0


def test_null_fields_local_and_removed_tracks(
    lake_dir: Path, request: pytest.FixtureRequest
) -> None:
    """A local file is a play without ID; a removed track is quarantined once over two polls."""
    write_token("me")
    with cassette(request):
        assert ingest("me", 0)
        assert ingest("me", 1)
    plays = landed(lake_dir).to_pylist()
    assert len(plays) == 4
    local = [p for p in plays if p["is_local"]]
    assert len(local) == 1
    assert local[0]["track_id"] is None
    assert local[0]["track_name"] == "Night Drive"
    assert local[0]["artist_name"] == "Kings of Tape"
    quarantine = ds.dataset(
        str(lake_dir / "staged/quarantine/source=api"), format="parquet"
    ).to_table()
    assert quarantine.num_rows == 1
    assert "track is null" in quarantine["reason"][0].as_py()


def test_hostile_items_are_quarantined(lake_dir: Path, request: pytest.FixtureRequest) -> None:
    """Items no real play can have are quarantined and the rest of the page lands.

    A stamp in year 9999, a duration past int64, a lone surrogate in a name and an ID that is a
    URL path, among real items: before, the page failed as a whole at every poll (the duration
    and the name could not be written) or staged a day in 9999 that failed dbt's future test at
    every build and, as the cursor, hid every later gap.
    """
    write_token("me")
    with cassette(request):
        assert ingest("me", 0)
    plays = landed(lake_dir)
    assert sorted(plays["played_at"].to_pylist()) == [
        dt.datetime(2026, 11, 23, 8, 40, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 23, 9, 5, tzinfo=dt.UTC),
    ]
    quarantine = ds.dataset(
        str(lake_dir / "staged/quarantine/source=api"), format="parquet"
    ).to_table()
    reasons = sorted(quarantine["reason"].to_pylist())
    assert len(reasons) == 4
    for expected in ("in the future", "more than a day", "not valid Unicode", "not a Spotify ID"):
        assert any(expected in reason for reason in reasons), (expected, reasons)
    assert all(json.loads(record)["played_at"] for record in quarantine["record"].to_pylist())
    st = state(lake_dir)
    assert st["cursor_at"].startswith("2026-11-23T09:05:00")
    assert "last_error" not in st or not st["last_error"]
    days = {p.name for p in (lake_dir / "staged/polls/v1/account=me").iterdir()}
    assert days == {"date=2026-11-23"}


def test_hostile_token_answer_is_a_bad_response(
    lake_dir: Path, request: pytest.FixtureRequest
) -> None:
    """A refresh answered with an access token holding a line break (and expires_in "soon") is
    the account's bad_response, and the cache keeps the old token. Before, the HTTP library
    raised mid-poll (or int("soon") did) and the task failed with a traceback."""
    path = write_token("me")
    before = path.read_bytes()
    with cassette(request):
        assert ingest("me", 0)
    error = state(lake_dir)["last_error"]
    assert error["kind"] == "bad_response"
    assert "token response without a usable access_token" in error["message"]
    assert path.read_bytes() == before
    assert landed(lake_dir).num_rows == 0


def test_two_accounts(lake_dir: Path, request: pytest.FixtureRequest) -> None:
    """Each listener's poll lands under its own account, with its own state."""
    write_token("me")
    write_token("partner")
    with cassette(request, match_account=True):
        assert poll(0)
    assert landed(lake_dir, "me").num_rows == 5
    assert landed(lake_dir, "partner").num_rows == 2
    plays = staged_plays(lake_dir)
    assert sorted(set(plays["account"].to_pylist())) == ["me", "partner"]
    assert state(lake_dir, "partner")["cursor_ms"] == 1695397413750


def test_account_without_token_does_not_stop_others(
    lake_dir: Path, request: pytest.FixtureRequest
) -> None:
    """An account never authorised is reported in its state; the other account still polls."""
    write_token("partner")
    with cassette(request):
        assert poll(0)
    assert landed(lake_dir, "partner").num_rows == 2
    st = state(lake_dir, "me")
    assert st["last_error"]["kind"] == "not_authorised"
    assert "music-tracker auth me" in st["last_error"]["message"]


@pytest.mark.parametrize(
    ("name", "kind", "hint"),
    [
        ("test_forbidden_dev_mode", "forbidden", "User Management"),
        ("test_missing_scope", "missing_scope", "music-tracker auth me"),
    ],
)
def test_403_is_explained(lake_dir: Path, name: str, kind: str, hint: str) -> None:
    """A 403 is recorded with what to do (add the user in dev mode, or re-auth for scopes)."""
    write_token("me")
    with player(MODULE).use_cassette(f"{name}.yaml"):
        assert ingest("me", 0)
    st = state(lake_dir)
    assert st["last_error"]["kind"] == kind
    assert hint in st["last_error"]["message"]


def test_refresh_warning_two_weeks_before_expiry(lake_dir: Path) -> None:
    """An authorisation 170 days old warns; one 100 days old does not."""
    from pipeline.clients.spotify import SpotifyClient

    write_token("me", authorised_days_ago=170)
    write_token("partner", authorised_days_ago=100)
    warning = SpotifyClient("me").refresh_warning()
    assert warning and "12 days left" in warning and "music-tracker auth me" in warning
    assert SpotifyClient("partner").refresh_warning() is None


def test_auth_command_stores_token(
    lake_dir: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`music-tracker auth me` prints the URL, takes the pasted address, stores a 0600 cache."""
    import io
    import urllib.parse

    from pipeline import cli
    from pipeline.clients import spotify

    pending = spotify.authorize_url("me")
    monkeypatch.setattr(spotify, "authorize_url", lambda account: pending)
    pasted = f"http://127.0.0.1:8888/callback?code=AQDtestcode&state={pending.state}\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(pasted))
    with cassette(request), caplog.at_level(logging.DEBUG):
        assert cli.main(["--data-dir", str(lake_dir), "auth", "me"]) == 0
    out = capsys.readouterr().out
    query = urllib.parse.parse_qs(urllib.parse.urlparse(pending.url).query)
    assert pending.url.startswith("https://accounts.spotify.com/authorize?")
    assert query["redirect_uri"] == ["http://127.0.0.1:8888/callback"]
    assert query["scope"] == ["user-read-recently-played"]
    assert pending.url in out
    path = lake_dir / "state" / "tokens" / "me.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cache = json.loads(path.read_text())
    first = dt.datetime.fromisoformat(cache["first_authorised_at"])
    assert abs((dt.datetime.now(dt.UTC) - first).total_seconds()) < 60
    assert cache["refresh_token"] == "<scrubbed>"
    assert CLIENT_SECRET not in out + caplog.text


def test_auth_rejects_foreign_state(lake_dir: Path) -> None:
    """An address from another authorisation attempt is refused."""
    from pipeline.clients.spotify import AuthorisationError, authorize_url, code_from_redirect

    pending = authorize_url("me")
    with pytest.raises(AuthorisationError, match="state"):
        code_from_redirect(pending, "http://127.0.0.1:8888/callback?code=abc&state=other")


@pytest.mark.parametrize("wrap", ['"{}"', "'{}'", "<{}>", "  {}\r\n"])
def test_auth_reads_an_address_pasted_with_quotes_around_it(lake_dir: Path, wrap: str) -> None:
    """Copied with quotes or angle brackets, the address still gives its code."""
    from pipeline.clients.spotify import authorize_url, code_from_redirect

    pending = authorize_url("me")
    address = f"http://127.0.0.1:8888/callback?code=abc&state={pending.state}"
    assert code_from_redirect(pending, wrap.format(address)) == "abc"


def _assert_no_secrets(text: str, account: str) -> None:
    for secret in (CLIENT_SECRET, access_token(account), refresh_token(account)):
        assert secret not in text


@pytest.mark.slow
def test_live_and_export_join_once_in_warehouse(
    lake_dir: Path, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A play seen by a poll and in the extended export is one row in fct_plays."""
    import duckdb

    from pipeline.tasks import DbtBuild, ImportExport, StageAllPlays

    item = json.loads(REAL_JAVA.read_text())["items"][0]  # ended 2023-09-22T15:43:33.750Z
    export_rows = json.loads(
        (FIXTURES / "exports" / "efrrowini_Streaming_History_Audio_2023_first20.json").read_text()
    )[:3]
    same_play = dict(export_rows[0])
    same_play.update(
        ts="2023-09-22T15:43:33Z",
        ms_played=item["track"]["duration_ms"] - 4000,
        master_metadata_track_name=item["track"]["name"],
        master_metadata_album_artist_name=item["track"]["artists"][0]["name"],
        master_metadata_album_album_name=item["track"]["album"]["name"],
        spotify_track_uri=item["track"]["uri"],
    )
    export_file = tmp_path / "Streaming_History_Audio_2023_0.json"
    export_file.write_text(json.dumps([same_play, *export_rows]), encoding="utf-8")
    write_token("me")
    with cassette(request):
        assert ingest("me", 0)
    assert run_luigi([ImportExport(file=str(export_file), account="me"), StageAllPlays()])
    assert run_luigi([DbtBuild(date=dt.date(2023, 9, 22))])
    day = pq.read_table(lake_dir / "staged/plays/v1/date=2023-09-22/part-0.parquet")
    assert day.num_rows == 2  # Solitary Daze once (export kept) + Cappadocia (API only)
    con = duckdb.connect(str(lake_dir / "warehouse" / "build.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "select source, ms_played from marts.fct_plays "
            "where account = 'me' and played_at >= '2023-09-22 15:43:00+00' "
            "and played_at < '2023-09-22 15:44:00+00'"
        ).fetchall()
        total = con.execute("select count(*) from marts.fct_plays").fetchone()
    finally:
        con.close()
    assert rows == [("export_extended", item["track"]["duration_ms"] - 4000)]
    assert total == (2 + 3,)


def test_staged_polls_rebuild_from_raw(lake_dir: Path, request: pytest.FixtureRequest) -> None:
    """Deleting staged/ and replaying raw/ lands the same plays (raw is enough)."""
    import shutil

    from pipeline.ingest.polls import replay_all_raw_polls
    from pipeline.paths import lake

    write_token("me")
    with player(MODULE).use_cassette("test_overlapping_polls.yaml"):
        assert ingest("me", 0)
        assert ingest("me", 1)
    before = sorted(landed(lake_dir)["play_id"].to_pylist())
    files_before = sorted(p.name for p in (lake_dir / "staged/polls").rglob("*.parquet"))
    shutil.rmtree(lake_dir / "staged")
    assert replay_all_raw_polls(lake()) == 10
    assert sorted(landed(lake_dir)["play_id"].to_pylist()) == before
    assert sorted(p.name for p in (lake_dir / "staged/polls").rglob("*.parquet")) == files_before
    assert replay_all_raw_polls(lake()) == 0  # idempotent


def test_missing_app_credentials_are_reported(
    lake_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without SPOTIFY_CLIENT_ID an expired token cannot refresh: a config error, no crash."""
    monkeypatch.delenv("SPOTIFY_CLIENT_ID")
    path = write_token("me", expired=True)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert ingest("me", 0)
    st = state(lake_dir)
    assert st["last_error"]["kind"] == "config"
    assert "SPOTIFY_CLIENT_ID" in st["last_error"]["message"]
