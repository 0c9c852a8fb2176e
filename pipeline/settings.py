"""Typed settings, loaded once from ``config/`` and the environment.

This is the only module meant to read configuration files or environment variables
(docs/architecture.md, invariant 7, which lists where the code still departs). Layering,
lowest to highest:

1. ``config/base.yaml`` (committed defaults, every setting named there),
2. ``config/<MUSIC_TRACKER_ENV>.yaml`` (``development``, ``testing``, ``production``),
3. environment variables ``MUSIC_TRACKER__<SECTION>__<KEY>`` (parsed as YAML scalars), plus the
   secrets that must never live in a file (``SPOTIFY_CLIENT_SECRET`` and friends).

A missing, unknown or ill-typed setting fails at start-up with its dotted name, because a typo
in a YAML file should stop the run, not silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

ENV_PREFIX = "MUSIC_TRACKER__"
ENVIRONMENTS = ("development", "testing", "production")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SectionT = TypeVar("SectionT")


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names it."""


@dataclass(frozen=True)
class PathsSettings:
    """Where things live; relative paths resolve against the project root."""

    data_dir: Path
    dbt_project_dir: Path
    sample_dir: Path
    demo_data_dir: Path


@dataclass(frozen=True)
class AccountSettings:
    """One listener of the household."""

    name: str
    timezone: str
    display_name: str = ""
    #: Poll this listener's recently-played (false: exports only for them).
    poll: bool = True


@dataclass(frozen=True)
class ImportSettings:
    """How Spotify export files are recognised and bounded."""

    patterns: list[str]
    max_file_mb: int
    #: A play may end at most this far after the import's clock (dbt's future test allows 10).
    max_future_minutes: int
    #: Bytes a .zip may expand to in all (members and nested zips together).
    max_archive_mb: int
    #: Largest expansion of one member (uncompressed / compressed) read from a .zip.
    max_compression_ratio: int
    #: How many zips inside zips are opened (1: only members of the archive itself).
    max_zip_depth: int


@dataclass(frozen=True)
class DedupeSettings:
    """How one play seen by two sources is recognised."""

    match_window_seconds: int


@dataclass(frozen=True)
class DuckDBSettings:
    """Resource caps for every DuckDB connection (pipeline and dbt)."""

    memory_limit: str
    threads: int
    #: The pipeline process's own connections (import, enrichment, publish): they run while
    #: the process already holds Python, Arrow and Luigi, so they get a smaller share.
    task_memory_limit: str = "128MB"


@dataclass(frozen=True)
class DbtSettings:
    """How the warehouse build is run."""

    target: str
    timeout_minutes: int
    #: Where dbt writes its artifacts (manifest, run_results, partial parse) and its log; ""
    #: is the project's target/. One folder per concurrent builder (parallel test workers).
    target_path: str = ""


@dataclass(frozen=True)
class SessionSettings:
    """Listening-session analytics."""

    idle_gap_minutes: int


# The sections of the HTTP clients (pipeline/clients/), read by ``pipeline.enrich.config``
# through ``section()``: declared here so a client needs no import of enrich/.
@dataclass(frozen=True)
class MusicBrainzSettings:
    """MusicBrainz ws/2 (or a self-hosted mirror)."""

    base_url: str = "https://musicbrainz.org"
    app_name: str = "music-tracker"
    app_version: str = "0.1.0"
    contact: str = ""
    format: str = "json"
    min_interval_seconds: float = 1.0
    timeout_seconds: float = 20.0
    max_retries: int = 3
    backoff_seconds: float = 2.0
    max_wait_seconds: float = 60.0
    search_min_score: int = 90
    search_limit: int = 10
    calls_per_run: int = 1500
    calls_per_day: int = 20000


@dataclass(frozen=True)
class NominatimSettings:
    """Nominatim through geopy (public instance or your own)."""

    domain: str = "nominatim.openstreetmap.org"
    scheme: str = "https"
    user_agent: str = ""
    min_delay_seconds: float = 1.0
    timeout_seconds: float = 20.0
    max_retries: int = 2
    error_wait_seconds: float = 5.0
    max_wait_seconds: float = 60.0
    language: str = "en"
    calls_per_run: int = 500
    calls_per_day: int = 5000
    attribution: str = "Data © OpenStreetMap contributors, ODbL 1.0. https://osm.org/copyright"


@dataclass(frozen=True)
class SpotifyCatalogueSettings:
    """Spotify Web API catalogue lookups (per item only: batch ?ids= answers 403)."""

    base_url: str = "https://api.spotify.com/v1"
    min_interval_seconds: float = 0.2
    timeout_seconds: float = 20.0
    max_retries: int = 3
    backoff_seconds: float = 1.0
    max_wait_seconds: float = 60.0
    calls_per_run: int = 300
    calls_per_day: int = 500
    fetch_albums: bool = True
    fetch_artists: bool = True


@dataclass(frozen=True)
class Settings:
    """Everything the pipeline reads from configuration."""

    paths: PathsSettings
    accounts: list[AccountSettings]
    default_account: str
    import_: ImportSettings
    dedupe: DedupeSettings
    duckdb: DuckDBSettings
    dbt: DbtSettings
    sessions: SessionSettings
    env: str = "development"
    extra: dict[str, Any] = field(default_factory=dict)

    def account(self, name: str) -> AccountSettings:
        """Return the named account or fail with the list of known ones."""
        for account in self.accounts:
            if account.name == name:
                return account
        known = ", ".join(a.name for a in self.accounts)
        raise SettingsError(f"no account named {name!r} in config (configured accounts: {known})")


# YAML keys that are Python keywords map to a trailing-underscore field name.
_RENAMES = {"import": "import_"}


def _deep_merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Turn MUSIC_TRACKER__A__B=value into {"a": {"b": value}}."""
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not parts:
            continue
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        try:
            node[parts[-1]] = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError as exc:
            raise SettingsError(f"{name}: not a valid value ({exc})") from exc
    return tree


def _coerce(value: Any, hint: Any, name: str, root: Path) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], name, root)
    if dataclasses.is_dataclass(hint):
        if value is None:
            value = {}  # a section with every key commented out: report the missing keys
        if not isinstance(value, Mapping):
            raise SettingsError(f"{name}: expected a mapping, got {type(value).__name__}")
        return _build(hint, value, name, root)  # type: ignore[arg-type]
    if origin is list:
        if not isinstance(value, list):
            raise SettingsError(f"{name}: expected a list, got {type(value).__name__}")
        return [_coerce(v, args[0], f"{name}[{i}]", root) for i, v in enumerate(value)]
    if origin is dict or hint is dict:
        if not isinstance(value, Mapping):
            raise SettingsError(f"{name}: expected a mapping, got {type(value).__name__}")
        return dict(value)
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise SettingsError(f"{name}: expected a path, got {value!r}")
        path = Path(value).expanduser()
        return path if path.is_absolute() else (root / path)
    if hint is bool:
        if not isinstance(value, bool):
            raise SettingsError(f"{name}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(f"{name}: expected a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SettingsError(f"{name}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if isinstance(value, bool) or value is None or isinstance(value, Mapping | list):
            raise SettingsError(f"{name}: expected text, got {value!r}")
        return str(value)
    return value


def _build(cls: type[Any], data: Mapping[str, Any], prefix: str, root: Path) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    seen: set[str] = set()
    for key, value in data.items():
        attr = _RENAMES.get(key, key)
        dotted = f"{prefix}.{key}" if prefix else key
        if attr not in fields or attr in ("env", "extra"):
            if cls is Settings:
                continue  # top-level sections owned by other modules land in `extra`
            raise SettingsError(f"{dotted}: unknown setting (typo?)")
        kwargs[attr] = _coerce(value, hints[attr], dotted, root)
        seen.add(attr)
    for name, f in fields.items():
        if name in seen or name in ("env", "extra"):
            continue
        no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if no_default:
            key = next((k for k, v in _RENAMES.items() if v == name), name)
            raise SettingsError(f"{prefix + '.' if prefix else ''}{key}: missing setting")
    return cls(**kwargs)


def env_name(dotted: str) -> str:
    """A setting's variable: ``paths.data_dir`` is ``MUSIC_TRACKER__PATHS__DATA_DIR``."""
    return ENV_PREFIX + "__".join(part.upper() for part in dotted.split("."))


@dataclass(frozen=True)
class Overrides:
    """What a command line sets on top of the files and the environment (``--data-dir``, demo).

    Values are text parsed like environment values (YAML scalars). ``values`` beat the
    environment; ``defaults`` only fill settings the environment does not set (they beat the
    files). The same layering as writing ``MUSIC_TRACKER__...`` variables, without doing it.
    """

    values: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, str] = field(default_factory=dict)

    def environ(self, environ: Mapping[str, str]) -> dict[str, str]:
        """``environ`` with these overrides applied, as ``MUSIC_TRACKER__`` variables."""
        merged = {env_name(k): v for k, v in self.defaults.items()}
        merged.update(environ)
        merged.update({env_name(k): v for k, v in self.values.items()})
        return merged


#: The overrides of this process's command line (``use_overrides``); none outside the CLI.
_overrides = Overrides()


def load_settings(
    config_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Overrides | None = None,
) -> Settings:
    """Read and validate the settings; raise SettingsError naming any bad setting."""
    environ = os.environ if environ is None else environ
    if overrides is not None:
        environ = overrides.environ(environ)
    config_dir = Path(
        environ.get("MUSIC_TRACKER_CONFIG_DIR", config_dir or PROJECT_ROOT / "config")
    )
    root = config_dir.resolve().parent
    env = environ.get("MUSIC_TRACKER_ENV", "development")
    if env not in ENVIRONMENTS:
        raise SettingsError(f"MUSIC_TRACKER_ENV: {env!r} is not one of {', '.join(ENVIRONMENTS)}")
    data: dict[str, Any] = {}
    for path in (config_dir / "base.yaml", config_dir / f"{env}.yaml"):
        if not path.exists():
            if path.name == "base.yaml":
                raise SettingsError(f"config: {path} is missing")
            continue
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise SettingsError(f"config: {path.name} is not valid YAML: {exc}") from exc
        if not isinstance(loaded, Mapping):
            raise SettingsError(f"config: {path.name} must be a mapping of sections")
        data = _deep_merge(data, loaded)
    data = _deep_merge(data, _env_overrides(environ))
    settings: Settings = _build(Settings, data, "", root)
    known = {_RENAMES.get(f.name, f.name) for f in dataclasses.fields(Settings)}
    known |= set(_RENAMES)
    extra = {k: v for k, v in data.items() if k not in known}
    settings = dataclasses.replace(settings, env=env, extra=extra)
    _validate(settings)
    return settings


def _validate(settings: Settings) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not settings.accounts:
        raise SettingsError("accounts: at least one account is required")
    names = [a.name for a in settings.accounts]
    if len(set(names)) != len(names):
        raise SettingsError("accounts: account names must be unique")
    for i, account in enumerate(settings.accounts):
        try:
            ZoneInfo(account.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SettingsError(
                f"accounts[{i}].timezone: {account.timezone!r} is not an IANA time zone"
            ) from exc
    if settings.default_account not in names:
        raise SettingsError(f"default_account: {settings.default_account!r} is not in accounts")
    if settings.duckdb.threads < 1:
        raise SettingsError("duckdb.threads: must be at least 1")


#: Every top-level section another module owns, with what reads and checks it:
#: ``"module:function"``, or ``"module:Dataclass"`` for a section with no reader function.
#: ``validate_sections()`` reads each at start-up, so a wrongly typed value such as
#: ``MUSIC_TRACKER__STATUS__MAX_POLL_AGE_HOURS=x`` stops the program before any work, not as a
#: traceback when the section is first read. A new section in ``config/base.yaml`` must be
#: listed here (``tests/unit/test_settings.py`` fails otherwise).
SECTIONS: dict[str, str] = {
    "spotify": "pipeline.clients.spotify:spotify_settings",
    "enrichment": "pipeline.enrich.config:enrichment",
    "musicbrainz": "pipeline.enrich.config:musicbrainz",
    "nominatim": "pipeline.enrich.config:nominatim",
    "spotify_catalogue": "pipeline.enrich.config:spotify_catalogue",
    "logging": "pipeline.log:LoggingSettings",
    "scheduler": "pipeline.runner:scheduler_settings",
    "cron": "pipeline.ops.schedule:cron_settings",
    "notifications": "pipeline.ops.notify:notification_settings",
    "status": "pipeline.ops.health:status_settings",
    "metabase": "pipeline.ops.metabase:metabase_settings",
}


def validate_sections() -> None:
    """Read every registered section once; raise SettingsError naming the first bad setting."""
    import importlib

    for name, target in SECTIONS.items():
        module, func = target.split(":")
        try:
            reader = getattr(importlib.import_module(module), func)
        except (ImportError, AttributeError):
            continue  # a module removed or renamed: its section can no longer be read anyway
        try:
            if dataclasses.is_dataclass(reader):
                section(name, reader)  # type: ignore[arg-type]
            else:
                reader()
        except SettingsError:
            raise
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"{name}: {exc}") from exc


def section(name: str, cls: type[SectionT]) -> SectionT:
    """Validate a top-level section owned by another module (e.g. ``spotify``) into ``cls``.

    Modules that add a section declare a frozen dataclass and call this, so the section gets the
    same typo and type checks as the core ones without this file knowing every client.
    """
    settings = get_settings()
    data = settings.extra.get(name)
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise SettingsError(f"{name}: expected a mapping of settings")
    return _build(cls, data, name, PROJECT_ROOT)


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once (with the command line's overrides, if any)."""
    return load_settings(overrides=_overrides)


def reload_settings() -> Settings:
    """Read the files and the environment again, without command-line overrides (tests, bench)."""
    return use_overrides(Overrides())


def use_overrides(overrides: Overrides) -> Settings:
    """Make ``overrides`` this process's command-line layer (the CLI's ``--data-dir``) and reload.

    Child interpreters get them through ``child_environment()``.
    """
    global _overrides
    _overrides = overrides
    get_settings.cache_clear()
    return get_settings()


def child_environment(**extra: str) -> dict[str, str]:
    """The environment for a child process: this one's, plus the command line's overrides.

    A child ``music-tracker`` (the ingest child, a cron job, dbt) then reads the same settings
    as its parent, as when the CLI wrote them into ``os.environ``.
    """
    env = _overrides.environ(os.environ)
    env.update(extra)
    return env


def secret(name: str) -> str | None:
    """Read a secret from the environment (never from a committed file); None if unset."""
    value = os.environ.get(name)
    return value or None


def secret_values(words: tuple[str, ...]) -> tuple[str, ...]:
    """Values of the environment variables whose names contain one of ``words`` (for redaction)."""
    return tuple(
        v for k, v in os.environ.items() if any(w in k.upper() for w in words) and len(v) >= 4
    )


def early_logging(name: str, default: str) -> str:
    """``MUSIC_TRACKER_LOG_<name>``, read before the settings load: settings errors get logged."""
    return os.environ.get(f"MUSIC_TRACKER_LOG_{name}", default)
