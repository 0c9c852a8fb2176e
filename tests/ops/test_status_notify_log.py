"""`music-tracker status`, the notification events and channels, and the JSON log."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pyarrow as pa
import pytest

from pipeline import schemas
from pipeline.cli import main
from pipeline.clients.webhook import build_request
from pipeline.io.atomic import write_json_atomic
from pipeline.io.parquet import write_parquet_atomic
from pipeline.ops import health, notify
from pipeline.paths import lake
from pipeline.settings import notification_settings

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def _state(data_dir: Path, account: str, **values: object) -> None:
    write_json_atomic(data_dir / f"state/spotify/{account}.json", values)


def _poll_file(data_dir: Path, account: str, played_at: dt.datetime) -> None:
    table = pa.table({"account": [account], "played_at": pa.array([played_at], schemas.UTC_MS)})
    day = played_at.date().isoformat()
    write_parquet_atomic(
        data_dir / f"staged/polls/v1/account={account}/date={day}/p1.parquet", table
    )


@pytest.fixture
def isolated_dbt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Path:
    """Point dbt_project_dir at an empty folder so no other test's run_results leak in."""
    from pipeline import settings

    project = tmp_path / "dbt"
    (project / "target").mkdir(parents=True)
    monkeypatch.setenv("MUSIC_TRACKER__PATHS__DBT_PROJECT_DIR", str(project))
    settings.reload_settings()
    return project


def _token(account: str, authorised: dt.datetime) -> None:
    """A token cache as `music-tracker auth` writes it (authorised at ``authorised``)."""
    from pipeline.clients.spotify import save_token

    save_token(
        account,
        {
            "access_token": "BQ-test",
            "refresh_token": "AQ-test",
            "expires_at": int(NOW.timestamp()) + 3600,
            "token_type": "Bearer",
            "first_authorised_at": authorised.isoformat(),
        },
    )


def test_fresh_install_is_healthy(
    isolated_dbt: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With listeners authorised and nothing polled yet, status says so and exits 0."""
    _token("me", NOW)
    _token("partner", NOW)
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "HEALTHY" in out
    assert "me: not polled yet" in out
    assert "enrichment backlog: nothing to enrich yet" in out
    assert "last build: never" in out
    assert "disk: data/ uses" in out


def test_stale_poll_and_failed_build_are_unhealthy(
    data_dir: Path, isolated_dbt: Path, capsys: pytest.CaptureFixture
) -> None:
    """A poll older than the limit and a dbt test failure make status exit 1, saying why."""
    _token("me", NOW)
    _token("partner", NOW)
    _state(
        data_dir,
        "me",
        last_success_at=(NOW - dt.timedelta(hours=5)).isoformat(),
        last_poll_at=(NOW - dt.timedelta(minutes=10)).isoformat(),
        last_error="HTTP 503 from Spotify",
    )
    _state(data_dir, "partner", last_success_at=NOW.isoformat(), last_poll_at=NOW.isoformat())
    write_json_atomic(
        data_dir / f"staged/dbt_runs/date={NOW.date()}/run_results.json",
        {
            "status": "success",
            "date": NOW.date().isoformat(),
            "results": [
                {"unique_id": "model.music_tracker.fct_plays", "status": "success"},
                {"unique_id": "test.music_tracker.unique_fct_plays_play_sk.abc", "status": "pass"},
                {"unique_id": "test.music_tracker.not_null_dim_track_sk.def", "status": "fail"},
            ],
        },
    )
    from pipeline.enrich.runs import open_state
    from pipeline.paths import lake

    lookups = open_state(lake(), "musicbrainz")
    when = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    lookups.record("artist", "name:a", "failed", when, error="503")
    lookups.record("artist", "name:b", "found", when)
    lookups.record("artist", "name:c", "failed", when, error="timeout")
    lookups.close()
    assert main(["status"]) == 1
    out = capsys.readouterr().out
    assert "UNHEALTHY" in out
    assert "PROBLEM: me: no successful poll for over 2 h" in out
    assert "partner: last successful poll" in out
    assert "last error: HTTP 503 from Spotify" in out
    assert "tests: fail 1, pass 1" in out
    assert "PROBLEM: last dbt build failed (not_null_dim_track_sk)" in out
    assert "enrichment backlog: nothing to enrich yet" in out  # no plays staged here
    assert main(["status", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["healthy"] is False and data["accounts"][0]["name"] == "me"


def test_health_events_token_no_plays_and_gap(data_dir: Path, isolated_dbt: Path) -> None:
    """A revoked token, 20 quiet hours of an active listener, and a new gap each make an event."""
    _token("me", NOW)
    _token("partner", NOW)
    _state(data_dir, "me", last_success_at=NOW.isoformat(), last_error="invalid_grant: revoked")
    _state(data_dir, "partner", last_success_at=NOW.isoformat())
    _poll_file(data_dir, "partner", NOW - dt.timedelta(hours=20))
    gap = pa.Table.from_pylist(
        [
            {
                "account": "partner",
                "gap_start": NOW - dt.timedelta(hours=9),
                "gap_end": NOW - dt.timedelta(hours=8),
                "detected_at": NOW - dt.timedelta(minutes=5),
                "poll_file": "x",
            }
        ],
        schema=schemas.POLL_GAPS,
    )
    write_parquet_atomic(lake().dated_partition("gaps", NOW.date()), gap)
    status = health.collect_accounts(lake(), NOW)  # what a cron run collects for its events
    cfg = notification_settings()
    events = notify.health_events(status, NOW, cfg) + notify.gap_events(
        lake(), NOW - dt.timedelta(hours=1)
    )
    kinds = {(e.kind, e.key.split(":")[1]) for e in events}
    assert kinds == {("token", "me"), ("no_plays", "partner"), ("gap", "partner")}
    assert not status.healthy  # a revoked token needs the user
    assert notify.gap_events(lake(), NOW) == []  # already seen


def test_last_play_is_each_accounts_newest_over_the_days_it_reads(data_dir: Path) -> None:
    """Newest day first, stopping once every account has a play: an account quiet for days
    is still found, and a day's later file beats its earlier one."""
    today = NOW.replace(hour=12, minute=0, second=0)
    _poll_file(data_dir, "me", today - dt.timedelta(hours=2))
    table = pa.table(
        {"account": ["me"], "played_at": pa.array([today - dt.timedelta(hours=1)], schemas.UTC_MS)}
    )
    write_parquet_atomic(
        data_dir / f"staged/polls/v1/account=me/date={today.date()}/p2.parquet", table
    )
    _poll_file(data_dir, "me", today - dt.timedelta(days=1))
    _poll_file(data_dir, "partner", today - dt.timedelta(days=3))
    found = health.last_play_by_account(lake(), today, 14, ["me", "partner"])
    assert found == {"me": today - dt.timedelta(hours=1), "partner": today - dt.timedelta(days=3)}
    assert health.last_play_by_account(lake(), today, 14, ["me"]) == {
        "me": today - dt.timedelta(hours=1)
    }
    # Each file's answer is remembered under its stamp: a rewritten file is read again.
    later = pa.table(
        {
            "account": ["me"],
            "played_at": pa.array([today - dt.timedelta(minutes=5)], schemas.UTC_MS),
        }
    )
    write_parquet_atomic(
        data_dir / f"staged/polls/v1/account=me/date={today.date()}/p2.parquet", later
    )
    assert health.last_play_by_account(lake(), today, 14, ["me"]) == {
        "me": today - dt.timedelta(minutes=5)
    }
    # A damaged memo (derived state) is read past, never trusted, and written again.
    memo = data_dir / "state" / health.LAST_PLAYS_FILE
    key = f"staged/polls/v1/account=me/date={today.date()}/p2.parquet"
    for damaged in (
        {"files": []},
        {"files": {key: 1}},
        {"files": {key: {"stamp": 1, "day": None, "newest": []}}},
        {"files": {key: {"stamp": "x", "day": "9999-01-01", "newest": {"me": 5}}}},
    ):
        memo.write_text(json.dumps(damaged), encoding="utf-8")
        assert health.last_play_by_account(lake(), today, 14, ["me"]) == {
            "me": today - dt.timedelta(minutes=5)
        }, damaged


def test_a_webhook_that_redirects_forever_is_a_logged_failure(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A misconfigured proxy answering every call with a redirect: the notification is logged
    as not delivered and the run that reported it goes on (requests' TooManyRedirects
    escaped the client before and failed that run)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from pipeline import settings

    class Redirect(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(307)
            self.send_header("Location", self.path + "x")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("MUSIC_TRACKER__NOTIFICATIONS__WEBHOOK_KIND", "json")
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        monkeypatch.setenv("MUSIC_TRACKER__NOTIFICATIONS__WEBHOOK_URL", url)
        settings.reload_settings()
        event = notify.Event("token:me:revoked", "token", "Token of me revoked", "Authorise")
        assert notify.dispatch(lake(), [event], "run-1") == []
    finally:
        server.shutdown()
    assert "not delivered" in caplog.text and "TooManyRedirects" in caplog.text


def test_ntfy_notification_reaches_the_receiver(
    data_dir: Path, receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ntfy webhook gets the message as body with Title and Priority headers, once."""
    from pipeline import settings

    monkeypatch.setenv("MUSIC_TRACKER__NOTIFICATIONS__WEBHOOK_KIND", "ntfy")
    monkeypatch.setenv("MUSIC_TRACKER__NOTIFICATIONS__WEBHOOK_URL", f"{receiver.url}/mytopic")
    settings.reload_settings()
    event = notify.Event("token:me:revoked", "token", "Token of me revoked", "Authorise again")
    assert notify.dispatch(lake(), [event], "run-1") == [event]
    assert notify.dispatch(lake(), [event], "run-2") == []  # within repeat_hours
    (request,) = receiver.requests
    assert request["path"] == "/mytopic"
    assert request["body"] == "Authorise again"
    assert request["headers"]["Title"] == "Token of me revoked"
    assert request["headers"]["Priority"] == "high"


@pytest.mark.parametrize(
    ("kind", "url", "check"),
    [
        (
            "gotify",
            "http://g",
            lambda u, h, b: (
                u == "http://g/message" and b["priority"] == 8 and h["X-Gotify-Key"] == "tok"
            ),
        ),
        ("slack", "http://s", lambda u, h, b: b == {"text": "*T*\nM"}),
        ("discord", "http://d", lambda u, h, b: b == {"content": "**T**\nM"}),
        ("json", "http://j", lambda u, h, b: b["title"] == "T" and b["kind"] == "gap"),
    ],
)
def test_webhook_bodies_follow_each_service(kind: str, url: str, check) -> None:
    """Gotify, Slack, Discord and plain JSON each get the body shape their service documents."""
    event = {"title": "T", "message": "M", "severity": "error", "kind": "gap"}
    target, headers, body, raw = build_request(kind, url, event, "tok")
    assert raw is None and check(target, headers, body)


def test_logs_are_json_lines_without_secrets(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tokens, secrets and Authorization headers are masked in the JSON log file."""
    from pipeline import settings
    from pipeline.log import configure_from_settings, set_run_id

    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", "cl13nt-s3cret-value")
    settings.reload_settings()
    path = configure_from_settings()
    assert path is not None
    log = logging.getLogger("pipeline.test")
    set_run_id("20260101T000000Z-poll-0000")
    try:
        log.info("calling with headers %s", {"Authorization": "Bearer BQDabc123tokenvalue"})
        log.warning('token response: {"access_token": "AQBxyz987", "expires_in": 3600}')
        log.info("secret in text: cl13nt-s3cret-value; url ?refresh_token=RT-42abc&x=1")
        try:
            raise RuntimeError("refused: client_secret=cl13nt-s3cret-value")
        except RuntimeError:
            log.exception("it failed")
        log.info("rows", extra={"task": "StagePlays", "dataset": "plays", "rows": 3, "seconds": 1})
    finally:
        set_run_id(None)
        for handler in logging.getLogger().handlers[:]:
            if getattr(handler, "_music_tracker", None) == "file":
                logging.getLogger().removeHandler(handler)
                handler.close()
    text = path.read_text()
    for secret in ("BQDabc123tokenvalue", "AQBxyz987", "cl13nt-s3cret-value", "RT-42abc"):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert all(line["run_id"] == "20260101T000000Z-poll-0000" for line in lines)
    assert lines[-1]["task"] == "StagePlays" and lines[-1]["rows"] == 3
    assert "***" in lines[0]["msg"] and "RuntimeError" in lines[3]["exc"]


def test_log_file_rotates_by_size(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past logging.max_bytes the file rotates into pipeline.log.1."""
    from pipeline import settings
    from pipeline.log import configure_from_settings

    monkeypatch.setenv("MUSIC_TRACKER__LOGGING__MAX_BYTES", "2000")
    monkeypatch.setenv("MUSIC_TRACKER__LOGGING__BACKUP_COUNT", "2")
    settings.reload_settings()
    path = configure_from_settings()
    try:
        for i in range(100):
            logging.getLogger("pipeline.test").info("line %d %s", i, "x" * 50)
    finally:
        for handler in logging.getLogger().handlers[:]:
            if getattr(handler, "_music_tracker", None) == "file":
                logging.getLogger().removeHandler(handler)
                handler.close()
    assert path.with_name("pipeline.log.1").exists()
    assert path.with_name("pipeline.log.2").exists()
    assert not path.with_name("pipeline.log.3").exists()
    assert path.stat().st_size <= 2000


def test_expiring_token_warns_but_stays_healthy(data_dir: Path, isolated_dbt: Path) -> None:
    """A token expiring within spotify.refresh_warning_days is a warning naming `auth`."""
    _token("me", NOW - dt.timedelta(days=179))  # Spotify ends it after 182 days
    _token("partner", NOW)
    _state(data_dir, "me", last_success_at=NOW.isoformat())
    status = health.collect(lake(), NOW)
    assert status.healthy
    (warning,) = [w for w in status.warnings if "me: Spotify token expires" in w]
    assert "(in 3 days): run `music-tracker auth me` before then" in warning
    assert "token: expiring" in health.render(status)
    (event,) = notify.health_events(status, NOW, notification_settings())
    assert event.kind == "token" and event.severity == "warning"


def test_failed_build_is_reported_from_the_lake_only(
    data_dir: Path, isolated_dbt: Path, tmp_path: Path
) -> None:
    """A failed build of this lake is unhealthy; dbt's project target/ of another lake is not."""
    from pipeline.warehouse.build import record_failed_build

    isolated_dbt.joinpath("target").mkdir(parents=True, exist_ok=True)
    write_json_atomic(
        isolated_dbt / "target" / "run_results.json",
        {"results": [{"unique_id": "test.music_tracker.not_null_x.abc", "status": "fail"}]},
    )
    assert health.last_build(lake()) is None
    results = tmp_path / "run_results.json"
    write_json_atomic(
        results,
        {
            "results": [
                {"unique_id": "test.music_tracker.unique_dim_track_sk.def", "status": "fail"}
            ]
        },
    )
    record_failed_build(lake(), NOW.date(), results, 1)
    build = health.last_build(lake())
    assert build is not None
    assert build["status"] == "failed" and build["failing"] == ["unique_dim_track_sk"]


# ---------- what `status` must tell truthfully (issue 14, issue 12)


def _problems(status: health.Status) -> str:
    return "\n".join(status.problems)


@pytest.mark.parametrize(
    ("setup", "word"),
    [
        (lambda d: None, "missing"),
        (
            lambda d: (
                (d / "state/tokens").mkdir(parents=True)
                or (d / "state/tokens/me.json").write_text('{"access_tok')
            ),
            "corrupt",
        ),
        (lambda d: _token("me", NOW - dt.timedelta(days=200)), "expired"),
    ],
    ids=["missing", "corrupt", "expired"],
)
def test_unusable_token_is_unhealthy_and_names_auth(
    data_dir: Path, isolated_dbt: Path, setup, word: str
) -> None:
    """No token, a truncated token file and an expired authorisation are problems naming auth."""
    setup(data_dir)
    _token("partner", NOW)
    status = health.collect(lake(), NOW)
    assert not status.healthy
    assert f"me: Spotify token {word}" in _problems(status)
    assert "run `music-tracker auth me`" in _problems(status)
    assert f"token: {word}" in health.render(status)
    assert "partner" not in _problems(status)


def test_polling_switched_off_is_healthy(
    data_dir: Path, isolated_dbt: Path, capsys: pytest.CaptureFixture, monkeypatch
) -> None:
    """spotify.enabled: false (an export-only household): no token needed, healthy."""
    monkeypatch.setenv("MUSIC_TRACKER__SPOTIFY__ENABLED", "false")
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "HEALTHY" in out and "polling: off (spotify.enabled: false)" in out
    assert "token" not in out


def test_no_account_set_to_poll_is_healthy(data_dir: Path, isolated_dbt: Path, monkeypatch) -> None:
    """accounts[].poll: false for every listener counts as polling switched off."""
    from pipeline import settings

    monkeypatch.setenv(
        "MUSIC_TRACKER__ACCOUNTS",
        "[{name: me, timezone: Europe/Berlin, poll: false},"
        " {name: partner, timezone: America/New_York, poll: false}]",
    )
    settings.reload_settings()
    status = health.collect(lake(), NOW)
    assert status.healthy, status.problems
    assert status.polling_off == "no account has poll: true"


def test_export_only_healthcheck_exits_zero(tmp_path: Path) -> None:
    """The Docker healthcheck (`music-tracker status` in a process) passes with polling off."""
    from tests.ops.conftest import cli_env, run_cli

    lake_dir = tmp_path / "data"
    lake_dir.mkdir()
    result = run_cli(["status"], cli_env(lake_dir, MUSIC_TRACKER__SPOTIFY__ENABLED="false"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "HEALTHY" in result.stdout


def test_missing_data_dir_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    """`status --data-dir <missing>` exits non-zero, says so, and creates no folder."""
    from tests.ops.conftest import cli_env, run_cli

    missing = tmp_path / "nope"
    result = run_cli(["--data-dir", str(missing), "status"], cli_env(tmp_path / "other"))
    assert result.returncode == 2
    assert f"data folder {missing} does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    assert not missing.exists()


def test_first_failed_poll_is_not_an_old_poll(data_dir: Path, isolated_dbt: Path) -> None:
    """Seconds after a first failed poll there is no "no successful poll for over 2 h"."""
    _token("me", NOW)
    _token("partner", NOW)
    error = {"kind": "server_error", "message": "HTTP 503 from Spotify", "at": NOW.isoformat()}
    slot = (NOW - dt.timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M")
    _state(data_dir, "me", last_poll_at=NOW.isoformat(), last_error=error, slots={slot: {}})
    status = health.collect(lake(), NOW)
    assert status.healthy, status.problems
    assert any("first poll failed" in w for w in status.warnings)
    later = health.collect(lake(), NOW + dt.timedelta(hours=3))
    assert "me: no successful poll in the 2 h since polling started" in _problems(later)


def test_last_error_is_one_readable_line(data_dir: Path, isolated_dbt: Path) -> None:
    """last_error shows as kind, time and message, never as a Python dict."""
    _token("me", NOW)
    error = {
        "kind": "rate_limited",
        "message": "429 from Spotify;\n resume at 2026-12-03 10:00",
        "at": "2026-12-02T10:00:00+00:00",
    }
    _state(data_dir, "me", last_success_at=NOW.isoformat(), last_error=error)
    text = health.render(health.collect(lake(), NOW))
    assert (
        "last error: rate_limited at 2026-12-02 10:00 UTC: 429 from Spotify; resume at "
        "2026-12-03 10:00" in text
    )
    assert "{" not in text


def test_gaps_are_shown(data_dir: Path, isolated_dbt: Path) -> None:
    """Poll gaps recorded in the account state are shown with the latest window."""
    _token("me", NOW)
    gap = {"start": "2026-11-30T01:00:00+00:00", "end": "2026-11-30T07:00:00+00:00"}
    _state(data_dir, "me", last_success_at=NOW.isoformat(), gaps_detected=2, last_gap=gap)
    status = health.collect(lake(), NOW)
    text = health.render(status)
    assert "gaps: 2 detected, last 2026-11-30T01:00:00+00:00 .. 2026-11-30T07:00:00+00:00" in text
    assert any("me: 2 poll gap(s) detected" in w for w in status.warnings)


def test_newest_play_comes_from_the_warehouse(data_dir: Path, isolated_dbt: Path) -> None:
    """A warehouse whose plays are months old shows its newest play, not "-"."""
    import duckdb

    (data_dir / "warehouse").mkdir()
    con = duckdb.connect(str(data_dir / "warehouse/build.duckdb"))
    con.execute("create schema marts")
    con.execute("create table marts.fct_plays (played_at timestamptz)")
    con.execute(
        "insert into marts.fct_plays values ('2025-03-01 10:00:00+00'), ('2025-06-30 21:15:00+00')"
    )
    con.close()
    status = health.collect(lake(), NOW)
    assert status.newest_play_at == "2025-06-30T21:15:00+00:00"
    assert status.databases["warehouse"] == "ok"
    # closed again: a writer can open it at once (dbt needs it to itself)
    duckdb.connect(str(data_dir / "warehouse/build.duckdb")).close()


@pytest.mark.parametrize("which", ["warehouse/build.duckdb", "reporting/reporting.duckdb"])
def test_unreadable_database_is_unhealthy_and_names_rebuild(
    data_dir: Path, isolated_dbt: Path, which: str, monkeypatch
) -> None:
    """A DuckDB file whose first 8 KB were overwritten is a problem naming `rebuild`."""
    import duckdb

    monkeypatch.setenv("MUSIC_TRACKER__SPOTIFY__ENABLED", "false")
    from pipeline import settings

    settings.reload_settings()
    path = data_dir / which
    path.parent.mkdir(parents=True)
    con = duckdb.connect(str(path))
    con.execute("create table t as select range as i from range(100000)")
    con.close()
    with path.open("r+b") as handle:
        handle.write(b"\xde\xad" * 4096)
    status = health.collect(lake(), NOW)
    assert not status.healthy
    (problem,) = status.problems
    assert str(path) in problem and "unreadable" in problem
    assert "run `music-tracker rebuild`" in problem


def test_databases_are_not_opened_while_a_run_holds_the_lake(
    data_dir: Path, isolated_dbt: Path, monkeypatch
) -> None:
    """While another process holds the lake's lock, status does not open build.duckdb."""
    import subprocess
    import sys
    import time

    monkeypatch.setenv("MUSIC_TRACKER__SPOTIFY__ENABLED", "false")
    from pipeline import settings

    settings.reload_settings()
    (data_dir / "warehouse").mkdir()
    (data_dir / "warehouse/build.duckdb").write_bytes(b"x" * 8192)  # would be "unreadable"
    lock = data_dir / "state/locks/cron.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pipeline.ops.lock import exclusive; from pathlib import Path\n"
            f"with exclusive(Path({str(lock)!r}), {{'job': 'build', 'pid': 1}}):\n"
            "    print('held', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        status = health.collect(lake(), NOW)
        assert status.databases == {"warehouse": "busy", "reporting": "busy"}
        assert status.healthy
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert not health.collect(lake(), NOW).healthy  # once free, the bad file is found


def test_backlog_counts_what_was_never_enriched(data_dir: Path, isolated_dbt: Path) -> None:
    """With plays staged and no lookup ever made, every track and artist is backlog, not 0."""
    from pipeline.tasks import ImportExport, StageAllPlays
    from tests.conftest import run_luigi

    export = Path(__file__).parents[1] / "fixtures/exports/candidlyred_endsong_first24.json"
    assert run_luigi([ImportExport(file=str(export), account="me")])
    assert run_luigi([StageAllPlays()])
    backlog = health.collect(lake(), NOW).enrichment_backlog
    assert isinstance(backlog, dict)
    assert backlog["spotify_api"] > 0 and backlog["musicbrainz"] > 0
    assert backlog["nominatim"] == 0  # places are known only from MusicBrainz's answers

    damaged = lake().lookup_state_db("spotify_api")
    damaged.parent.mkdir(parents=True, exist_ok=True)
    damaged.write_bytes(b"not a database" * 100)
    backlog = health.collect(lake(), NOW).enrichment_backlog
    assert isinstance(backlog, str) and "spotify_api.sqlite: not a readable lookup state" in backlog
    assert damaged.read_bytes() == b"not a database" * 100  # status only looks


def test_the_healthcheck_reads_no_play_and_opens_no_database_beside_a_run(
    data_dir: Path, isolated_dbt: Path
) -> None:
    """`status --health` (Docker's healthcheck, every 5 min in the pipeline's 400 MB) gives the
    same verdict and problems as `status` but loads neither Arrow nor DuckDB while a run holds
    the lake: the full status beside a cycle's dbt got dbt killed for memory."""
    import os

    from pipeline.ops.lock import LAKE_LOCK, exclusive
    from tests.ops.conftest import cli_env, run_python

    _token("me", NOW)
    _state(data_dir, "me", last_success_at=NOW.isoformat())
    _poll_file(data_dir, "me", NOW - dt.timedelta(hours=1))
    probe = (
        "import json, sys\n"
        "from pipeline.ops.health import collect_health\n"
        "from pipeline.paths import lake\n"
        "status = collect_health(lake())\n"
        "loaded = [m for m in ('pyarrow', 'duckdb', 'polars') if m in sys.modules]\n"
        "print(json.dumps([status.healthy, status.problems, loaded]))\n"
    )
    env = cli_env(data_dir)
    holder = {"job": "poll", "pid": os.getpid(), "since": NOW.isoformat()}
    with exclusive(lake().lock_file(LAKE_LOCK), holder):
        result = run_python(["-c", probe], env)
        health_check = run_python(["-m", "pipeline.cli", "status", "--health"], env)
    assert result.returncode == 0, result.stderr
    healthy, problems, loaded = json.loads(result.stdout)
    assert loaded == []
    full = health.collect(lake())
    assert (healthy, problems) == (full.healthy, full.problems)
    expected = "HEALTHY" if full.healthy else "UNHEALTHY: " + "; ".join(full.problems)
    assert health_check.stdout.strip() == expected
    assert health_check.returncode == (0 if full.healthy else 1)


def test_status_beside_a_run_does_not_count_the_backlog(data_dir: Path, isolated_dbt: Path) -> None:
    """The full `status` while a run holds the lake leaves the enrichment backlog (every staged
    play and lookup, DuckDB) for later and says so; the rest is shown as usual."""
    import os

    from pipeline.ops.lock import LAKE_LOCK, exclusive
    from tests.ops.conftest import cli_env, run_cli

    _poll_file(data_dir, "me", NOW - dt.timedelta(hours=1))
    env = cli_env(data_dir, MUSIC_TRACKER__SPOTIFY__ENABLED="false")
    holder = {"job": "poll", "pid": os.getpid(), "since": NOW.isoformat()}
    with exclusive(lake().lock_file(LAKE_LOCK), holder):
        busy = run_cli(["status"], env)
    idle = run_cli(["status"], env)
    assert busy.returncode == idle.returncode == 0, busy.stdout + busy.stderr
    assert "enrichment backlog: not counted while a run holds the lake" in busy.stdout
    assert "enrichment backlog: not counted" not in idle.stdout
    assert "me:" in busy.stdout and "me:" in idle.stdout
