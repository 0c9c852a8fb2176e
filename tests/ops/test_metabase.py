"""`metabase provision`: the REST calls, replayed from cassettes in Metabase's documented shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import vcr

from pipeline.cli import main
from pipeline.ops.metabase import DashboardConfigError, layout, load_config

FIXTURE = Path(__file__).parents[1] / "fixtures" / "metabase"
CASSETTES = Path(__file__).parents[1] / "cassettes" / "test_metabase"


def _json_body(r1, r2) -> None:
    """Request bodies must match as JSON (passwords are scrubbed in cassettes)."""

    def norm(body):
        if not body:
            return None
        data = json.loads(body)
        text = json.dumps(data, sort_keys=True)
        return json.loads(text.replace('"test-password-123"', '"<PASSWORD>"'))

    assert norm(r1.body) == norm(r2.body)


def _player() -> vcr.VCR:
    player = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="none",
        match_on=["method", "uri", "json_body"],
        filter_headers=["X-Metabase-Session"],
    )
    player.register_matcher("json_body", _json_body)
    return player


@pytest.fixture
def metabase_env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSIC_TRACKER_METABASE_PASSWORD", "test-password-123")
    monkeypatch.setenv("MUSIC_TRACKER__METABASE__DATABASE_FILE", "/data/reporting/reporting.duckdb")


def _provision(capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = main(
        [
            "metabase",
            "provision",
            "--config-dir",
            str(FIXTURE),
            "--url",
            "http://metabase.test:3000",
        ]
    )
    return code, capsys.readouterr().out


def test_first_run_sets_up_and_creates_everything(metabase_env, capsys) -> None:
    """On a fresh Metabase: admin, read-only DuckDB database, collection, cards, dashboard."""
    with _player().use_cassette("test_first_run_sets_up_and_creates_everything.yaml") as cassette:
        code, out = _provision(capsys)
        assert cassette.all_played
    assert code == 0
    assert "created admin admin@music-tracker.local" in out
    assert "created database Music Tracker" in out
    assert "created card Minutes listened per day" in out
    assert "created dashboard Overview" in out
    db = json.loads(
        next(r.body for r in cassette.requests if r.path == "/api/database" and r.method == "POST")
    )
    assert db["engine"] == "duckdb" and db["details"]["read_only"] is True
    put = json.loads(cassette.requests[-1].body)
    assert [c["size_x"] for c in put["dashcards"]] == [16, 8]
    assert put["dashcards"][0]["parameter_mappings"][0]["target"] == [
        "variable",
        ["template-tag", "year"],
    ]
    assert put["parameters"][0]["slug"] == "year" and put["parameters"][0]["default"] == 2025


def test_second_run_updates_in_place_without_duplicates(metabase_env, capsys) -> None:
    """Run again: logs in, finds everything by name, updates it, creates nothing."""
    with _player().use_cassette("test_second_run_updates_in_place_without_duplicates.yaml") as c:
        code, out = _provision(capsys)
        assert c.all_played
    assert code == 0
    assert "created" not in out.replace("(0 created", "")
    assert "updated card Top artists" in out and "updated dashboard Overview" in out
    assert not any(
        r.method == "POST" and r.path in ("/api/card", "/api/dashboard") for r in c.requests
    )


def test_missing_password_is_a_clear_error(data_dir: Path, capsys) -> None:
    """Without the admin password in the environment, provisioning stops before any call."""
    assert main(["metabase", "provision", "--config-dir", str(FIXTURE)]) == 2
    assert "MUSIC_TRACKER_METABASE_PASSWORD" in capsys.readouterr().err


def test_config_errors_name_the_place(tmp_path: Path) -> None:
    """A card whose template tag has no dashboard filter is rejected with its position."""
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards/x.sql").write_text("select {{month}}")
    (tmp_path / "dashboards.yaml").write_text(
        "collection: C\ndatabase: {name: D}\ndashboards:\n"
        "  - {key: a, name: A, cards: [{key: x, name: X, display: table, sql: cards/x.sql}]}\n"
    )
    with pytest.raises(DashboardConfigError, match=r"dashboards\[0\]\.cards\[0\].*month"):
        load_config(tmp_path)


def test_layout_wraps_rows_of_the_24_column_grid() -> None:
    """Cards fill a row left to right and wrap when the next one does not fit."""
    config = load_config(FIXTURE)
    cards = config.dashboards[0].cards * 2
    assert layout(cards) == [(0, 0), (0, 16), (6, 0), (6, 16)]
