"""Settings: layered, overridable from the environment, and strict about mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.settings import SettingsError, load_settings

CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_environment_variable_overrides_file() -> None:
    """MUSIC_TRACKER__SECTION__KEY overrides YAML, parsed as a YAML scalar."""
    s = load_settings(
        CONFIG, {"MUSIC_TRACKER_ENV": "testing", "MUSIC_TRACKER__DUCKDB__THREADS": "1"}
    )
    assert s.duckdb.threads == 1
    assert [a.name for a in s.accounts] == ["me", "partner"]


def test_relative_paths_resolve_against_project_root() -> None:
    """data_dir 'data' means <project>/data, wherever the command runs from."""
    s = load_settings(CONFIG, {})
    assert s.paths.data_dir == CONFIG.parent / "data"


def _config(tmp_path: Path, text: str) -> Path:
    base = (CONFIG / "base.yaml").read_text()
    (tmp_path / "base.yaml").write_text(base + "\n" + text)
    return tmp_path


def test_typo_in_config_names_the_setting(tmp_path: Path) -> None:
    """An unknown key in a known section fails with its dotted name."""
    cfg = _config(tmp_path, "duckdb:\n  memory_limt: 1GB\n  memory_limit: 1GB\n  threads: 1\n")
    with pytest.raises(SettingsError, match=r"duckdb\.memory_limt: unknown setting"):
        load_settings(cfg, {})


def test_wrong_type_names_the_setting() -> None:
    """A value of the wrong type fails with the setting's name."""
    with pytest.raises(SettingsError, match=r"duckdb\.threads: expected a whole number"):
        load_settings(CONFIG, {"MUSIC_TRACKER__DUCKDB__THREADS": "many"})


def test_bad_time_zone_is_rejected(tmp_path: Path) -> None:
    """A listener's time zone must be an IANA name."""
    cfg = _config(tmp_path, "accounts:\n  - name: me\n    timezone: Mars/Olympus\n")
    with pytest.raises(SettingsError, match=r"accounts\[0\]\.timezone"):
        load_settings(cfg, {})


@pytest.mark.parametrize("name", ["a/b", "..", "", "tab\there", "back\\slash"])
def test_an_account_name_that_cannot_name_a_file_is_rejected(tmp_path: Path, name: str) -> None:
    """Account names end up in file and folder names; other names (quotes, spaces) are fine."""

    def config(account: str) -> Path:
        quoted = json.dumps(account)
        return _config(
            tmp_path,
            f"accounts:\n  - name: {quoted}\n    timezone: UTC\ndefault_account: {quoted}\n",
        )

    with pytest.raises(SettingsError, match=r"accounts\[0\]\.name"):
        load_settings(config(name), {})
    assert load_settings(config("O'Brien & Zoë"), {}).accounts[0].name == "O'Brien & Zoë"


def test_unknown_environment_is_rejected() -> None:
    """MUSIC_TRACKER_ENV must be development, testing or production."""
    with pytest.raises(SettingsError, match="MUSIC_TRACKER_ENV"):
        load_settings(CONFIG, {"MUSIC_TRACKER_ENV": "staging"})


def test_missing_setting_is_named(tmp_path: Path) -> None:
    """Removing a required setting names it."""
    text = (CONFIG / "base.yaml").read_text().replace("  target: prod\n", "")
    (tmp_path / "base.yaml").write_text(text)
    with pytest.raises(SettingsError, match=r"dbt\.target: missing setting"):
        load_settings(tmp_path, {})


def test_every_config_section_is_validated_at_start() -> None:
    """Each top-level section of base.yaml is a core setting or registered in SECTIONS."""
    import dataclasses

    import yaml

    from pipeline.settings import SECTIONS, Settings
    from pipeline.settings.build import RENAMES

    core = {RENAMES.get(f.name, f.name) for f in dataclasses.fields(Settings)}
    core |= {k for k, v in RENAMES.items() if v in core}
    sections = set(yaml.safe_load((CONFIG / "base.yaml").read_text()))
    assert sections - core - set(SECTIONS) == set()


def test_every_registered_section_is_in_base_yaml_and_reads_cleanly() -> None:
    """No stale registry entry, and each schema takes every key base.yaml writes."""
    from pipeline.settings import SECTIONS, load_settings, validate_sections

    assert load_settings(CONFIG, {}).extra.keys() == SECTIONS.keys()
    validate_sections()


def test_validating_the_sections_imports_nothing_heavy() -> None:
    """validate_sections() runs at every command's start: the settings package only, no Luigi.

    A no-op cycle has half a second in all; importing Luigi, the HTTP stack or pyarrow just to
    check the configuration would spend most of it.
    """
    import subprocess
    import sys

    code = (
        "import sys, pipeline.settings as s; s.validate_sections(); "
        "print(' '.join(sorted(m.split('.')[0] if not m.startswith('pipeline.') else m "
        "for m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=CONFIG.parent
    )
    loaded = set(result.stdout.split())
    ours = {m for m in loaded if m.startswith("pipeline.")}
    assert {m for m in ours if not m.startswith("pipeline.settings")} == set()
    heavy = {"luigi", "requests", "urllib3", "pyarrow", "jsonschema", "tenacity", "duckdb"}
    assert loaded & heavy == set()


def test_wrongly_typed_section_setting_stops_the_program_at_start(tmp_path: Path) -> None:
    """MUSIC_TRACKER__STATUS__MAX_POLL_AGE_HOURS=x: one line naming it, exit 2, no work done."""
    from tests.ops.conftest import cli_env, run_cli

    lake = tmp_path / "data"
    lake.mkdir()
    for args in (["cron", "crontab"], ["import", str(tmp_path)], ["status"]):
        result = run_cli(args, cli_env(lake, MUSIC_TRACKER__STATUS__MAX_POLL_AGE_HOURS="x"))
        assert result.returncode == 2, args
        assert result.stderr.strip().splitlines() == [
            "configuration error: status.max_poll_age_hours: expected a number, got 'x'"
        ]
    assert not (lake / "staged").exists()


def test_command_line_overrides_layer_without_touching_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """--data-dir beats the environment, the demo's default loses to it; a child gets both."""
    import os

    from pipeline import settings

    monkeypatch.setenv("MUSIC_TRACKER__ENRICHMENT__ENABLED", "true")
    monkeypatch.setenv("MUSIC_TRACKER__PATHS__DATA_DIR", str(tmp_path / "env"))
    before = dict(os.environ)
    overrides = settings.Overrides(
        {"paths.data_dir": str(tmp_path / "cli")},
        {"enrichment.enabled": "false", "duckdb.threads": "1"},
    )
    try:
        s = settings.use_overrides(overrides)
        assert s.paths.data_dir == tmp_path / "cli"
        assert s.duckdb.threads == 1
        assert s.extra["enrichment"]["enabled"] is True  # the environment's, not the default
        assert dict(os.environ) == before
        child = settings.child_environment(EXTRA="x")
        assert child["MUSIC_TRACKER__PATHS__DATA_DIR"] == str(tmp_path / "cli")
        assert child["MUSIC_TRACKER__ENRICHMENT__ENABLED"] == "true"
        assert child["MUSIC_TRACKER__DUCKDB__THREADS"] == "1"
        assert child["EXTRA"] == "x"
    finally:
        settings.reload_settings()
    assert settings.get_settings().paths.data_dir == tmp_path / "env"


def _account_file(tmp_path: Path, data: bytes) -> Path:
    """config/ with base.yaml as shipped and a development.yaml holding ``data``."""
    (tmp_path / "base.yaml").write_bytes((CONFIG / "base.yaml").read_bytes())
    (tmp_path / "development.yaml").write_bytes(data)
    return tmp_path


ACCOUNT = "accounts:\n  - name: me\n    display_name: Jürgen\n    timezone: Europe/Berlin\n"


def test_a_config_saved_as_utf16_with_its_mark_reads(tmp_path: Path) -> None:
    """Windows editors save "Unicode" as UTF-16 with a byte-order mark: the file reads."""
    cfg = _account_file(tmp_path, ACCOUNT.encode("utf-16"))
    assert [a.display_name for a in load_settings(cfg, {}).accounts] == ["Jürgen"]


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (ACCOUNT.encode("latin-1"), "development.yaml is not UTF-8 (or UTF-16"),
        (b"accounts: [\n", "development.yaml is not valid YAML at line 2"),
        (b"accounts:\n\t- name: x\n", "development.yaml is not valid YAML at line 2"),
    ],
)
def test_a_config_file_that_is_not_yaml_text_names_the_file(
    tmp_path: Path, data: bytes, said: str
) -> None:
    """A Latin-1 "ü" or a YAML slip is a SettingsError naming the file and line (the CLI's
    one line, exit 2), not a UnicodeDecodeError traceback at every command's start."""
    with pytest.raises(SettingsError) as error:
        load_settings(_account_file(tmp_path, data), {})
    assert said in str(error.value)


def test_a_config_file_that_is_a_folder_is_named(tmp_path: Path) -> None:
    cfg = _account_file(tmp_path, b"")
    (cfg / "development.yaml").unlink()
    (cfg / "development.yaml").mkdir()
    with pytest.raises(SettingsError, match="cannot read .*development.yaml"):
        load_settings(cfg, {})


@pytest.mark.parametrize(
    ("raw", "read"),
    [("abc123\r", "abc123"), (" abc123 \n", "abc123"), ("abc123", "abc123"), (" \r\n", None)],
)
def test_a_secret_is_read_without_the_whitespace_around_it(
    monkeypatch: pytest.MonkeyPatch, raw: str, read: str | None
) -> None:
    """A .env with Windows line ends or a pasted trailing space: the secret sent (and masked in
    the logs) is the secret itself, not Spotify's 'invalid_client' for an invisible ``\\r``."""
    from pipeline.settings import secret, secret_values

    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", raw)
    assert secret("SPOTIFY_CLIENT_SECRET") == read
    masked = secret_values(("SECRET",))
    assert (read in masked) if read else all(v.strip() for v in masked)


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        ("MAX_ZIP_ENTRIES", "0", "import.max_zip_entries: must be at least 1"),
        ("MAX_ZIP_DEPTH", "0", "import.max_zip_depth: must be at least 1"),
        ("MAX_FILE_MB", "0", "import.max_file_mb: must be at least 1"),
        ("MAX_FUTURE_MINUTES", "-1", "import.max_future_minutes: must be 0 or more, got -1"),
    ],
)
def test_an_import_limit_out_of_range_stops_at_start(key: str, value: str, said: str) -> None:
    """A limit of 0 would refuse every export (or a negative margin every play), each import
    quarantining everything; said at start instead."""
    with pytest.raises(SettingsError, match=said):
        load_settings(CONFIG, {f"MUSIC_TRACKER__IMPORT__{key}": value})


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        # `spotify.page_limit: 500` got Spotify's 400 at every poll.
        ("SPOTIFY__PAGE_LIMIT", "500", "spotify.page_limit: must be 1..50"),
        ("SPOTIFY__PAGE_LIMIT", "0", "spotify.page_limit: must be 1..50"),
        ("SPOTIFY__POLL_INTERVAL_MINUTES", "0", "spotify.poll_interval_minutes: must divide"),
        ("SPOTIFY__POLL_INTERVAL_MINUTES", "7", "spotify.poll_interval_minutes: must divide"),
        ("SPOTIFY__TIMEOUT_S", "0", "spotify.timeout_s: must be above 0"),
        ("SPOTIFY__MAX_RETRIES", "-1", "spotify.max_retries: must be 0 or more, got -1"),
        ("DEDUPE__MATCH_WINDOW_SECONDS", "-1", "dedupe.match_window_seconds: must be 0 or more"),
        # An address without its scheme raised in the HTTP library at the first call, mid-run.
        ("NOTIFICATIONS__WEBHOOK_URL", "gotify.local/message", "notifications.webhook_url: '"),
        ("METABASE__URL", "nas:3000", "metabase.url: 'nas:3000' is not an http:// or https://"),
        ("SPOTIFY__API_BASE_URL", "", "spotify.api_base_url: '' is not an http"),
        ("SCHEDULER__URL", "http://[::1", "scheduler.url: 'http://[::1' is not a web address"),
        ("NOMINATIM__DOMAIN", "https://osm.local", "nominatim.scheme and nominatim.domain"),
        ("DUCKDB__THREADS", "-2", "duckdb.threads: must be 0 or more, got -2"),
        ("SPOTIFY__BACKOFF_S", ".nan", "spotify.backoff_s: expected a finite number"),
        ("SPOTIFY__MAX_WAIT_S", ".inf", "spotify.max_wait_s: expected a finite number"),
    ],
)
def test_a_setting_out_of_range_stops_the_program_at_start(
    tmp_path: Path, variable: str, value: str, said: str
) -> None:
    """A value its service refuses, or a number that is negative (every number in the settings
    is a count, size, duration or limit: a dedupe window of -1 matches nothing) or NaN: one line
    at start, exit 2, in any section, before any work."""
    from tests.ops.conftest import cli_env, run_cli

    result = run_cli(["status"], cli_env(tmp_path, **{f"MUSIC_TRACKER__{variable}": value}))
    assert result.returncode == 2, result.stderr
    assert said in result.stderr and "Traceback" not in result.stderr
