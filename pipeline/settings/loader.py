"""Load the settings once from ``config/`` and the environment, in layers.

This package is the only code meant to read configuration files or environment variables
(docs/architecture.md, invariant 7). Layering, lowest to highest:

1. ``config/base.yaml`` (committed defaults, every setting named there),
2. ``config/<MUSIC_TRACKER_ENV>.yaml`` (``development``, ``testing``, ``production``),
3. environment variables ``MUSIC_TRACKER__<SECTION>__<KEY>`` (parsed as YAML scalars), plus the
   secrets that must never live in a file (``SPOTIFY_CLIENT_SECRET`` and friends),
4. the command line's ``Overrides`` (``--data-dir``, the demo's defaults).

The core sections are checked when they load (``build``); the others when ``section()`` reads
them, which ``validate_sections()`` does for all of them at start-up.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from pipeline.settings.build import RENAMES, build
from pipeline.settings.schema import DBT_LOG_LEVELS, PROJECT_ROOT, Settings, SettingsError
from pipeline.settings.yaml_file import YamlFileError, read_yaml

ENV_PREFIX = "MUSIC_TRACKER__"
ENVIRONMENTS = ("development", "testing", "production")
SectionT = TypeVar("SectionT")


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
            loaded = read_yaml(path) or {}
        except YamlFileError as exc:
            raise SettingsError(f"config: {exc}") from exc
        if not isinstance(loaded, Mapping):
            raise SettingsError(f"config: {path.name} must be a mapping of sections")
        data = _deep_merge(data, loaded)
    data = _deep_merge(data, _env_overrides(environ))
    settings: Settings = build(Settings, data, "", root)
    known = {RENAMES.get(f.name, f.name) for f in dataclasses.fields(Settings)}
    known |= set(RENAMES)
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
        problem = _account_name_problem(account.name)
        if problem:
            raise SettingsError(f"accounts[{i}].name: {account.name!r} {problem}")
        try:
            ZoneInfo(account.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SettingsError(
                f"accounts[{i}].timezone: {account.timezone!r} is not an IANA time zone"
            ) from exc
    if settings.default_account not in names:
        raise SettingsError(f"default_account: {settings.default_account!r} is not in accounts")
    for limit in (
        "max_file_mb",
        "max_archive_mb",
        "max_compression_ratio",
        "max_zip_depth",
        "max_zip_entries",
    ):
        if getattr(settings.import_, limit) < 1:
            raise SettingsError(f"import.{limit}: must be at least 1")
    if settings.duckdb.threads < 1:
        raise SettingsError("duckdb.threads: must be at least 1")
    if settings.dbt.cycle_threads < 1:
        raise SettingsError("dbt.cycle_threads: must be at least 1")
    if settings.dbt.log_level_file not in DBT_LOG_LEVELS:
        raise SettingsError(
            f"dbt.log_level_file: {settings.dbt.log_level_file!r} is not one of "
            f"{', '.join(DBT_LOG_LEVELS)}"
        )


def _account_name_problem(name: str) -> str | None:
    """What makes ``name`` unusable as an account's name, or None.

    The name is part of file and folder names (``<account>.import.json``, ``state/spotify/``,
    ``account=<name>`` partitions): a path separator made every import fail with "Invalid
    name". Spaces, quotes, ``&`` and any letters are fine.
    """
    if not name.strip():
        return "is empty"
    if name in (".", "..") or any(c in name for c in "/\\") or not name.isprintable():
        return "may not hold '/', '\\' or control characters, nor be '.' or '..' (it names files)"
    return None


def section(name: str, cls: type[SectionT]) -> SectionT:
    """Validate a top-level section outside the core ``Settings`` (e.g. ``spotify``) into ``cls``.

    Each section's dataclass is in ``pipeline.settings.sections`` and its typed accessor (which
    calls this) in ``pipeline.settings.accessors``; the section gets the same typo and type
    checks as the core ones, but only when it is read.
    """
    settings = get_settings()
    data = settings.extra.get(name)
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise SettingsError(f"{name}: expected a mapping of settings")
    return build(cls, data, name, PROJECT_ROOT)


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
