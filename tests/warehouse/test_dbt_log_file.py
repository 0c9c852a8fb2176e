"""dbt's own log file says what ``dbt.log_level_file`` asks, not dbt's debug default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline import settings
from pipeline.paths import lake
from pipeline.warehouse.run import run_dbt


def _parse_and_read_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, level: str) -> list:
    """Run a real ``dbt parse`` the way a build runs dbt; the levels of its log file's lines."""
    target = tmp_path / f"target-{level}"
    monkeypatch.setenv("MUSIC_TRACKER__DBT__TARGET_PATH", str(target))
    if level != "default":
        monkeypatch.setenv("MUSIC_TRACKER__DBT__LOG_LEVEL_FILE", level)
    settings.reload_settings()
    result = run_dbt(lake(), ["parse"])
    assert result.ok, result.summary()
    lines = (target / "logs" / "dbt.log").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["info"]["level"] for line in lines if line.strip()]


def test_a_build_keeps_no_debug_log_by_default(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """By default dbt's log file gets warnings and errors only (a cycle's debug log was ~11 MB
    of disk writes at 1M plays); ``debug`` brings every line back for chasing a problem."""
    assert not {"debug", "info"} & set(_parse_and_read_log(tmp_path, monkeypatch, "default"))
    levels = _parse_and_read_log(tmp_path, monkeypatch, "debug")
    assert "debug" in levels and "info" in levels


def test_an_unknown_log_level_stops_the_program_at_start() -> None:
    """A typo in dbt.log_level_file is a configuration error naming it, before any work."""
    from pipeline.settings import SettingsError, load_settings
    from pipeline.settings.schema import PROJECT_ROOT

    with pytest.raises(SettingsError, match=r"dbt\.log_level_file: 'loud' is not one of"):
        load_settings(PROJECT_ROOT / "config", {"MUSIC_TRACKER__DBT__LOG_LEVEL_FILE": "loud"})
