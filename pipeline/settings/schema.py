"""The core schema: ``Settings`` and the sections every stage reads (paths, accounts, DuckDB...).

``load_settings`` builds ``Settings`` from ``config/`` and the environment; the other top-level
sections (``spotify``, ``cron``...) are declared in ``pipeline.settings.sections`` and read on
demand through ``section()``, so a command pays only for the sections it uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The repository's root (``pipeline/settings/schema.py`` is three levels down): where
#: ``config/``, ``dbt_project/`` and ``luigi.cfg`` are, and what relative paths resolve against.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


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
    #: Entries (files and folders) an archive may list, the zips inside it included.
    max_zip_entries: int = 2000


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
    #: What dbt writes to its own log file (``<target_path>/logs/dbt.log``): one of
    #: ``DBT_LOG_LEVELS``. ``debug`` (dbt's default) logs every statement of every node,
    #: ~11 MB written per 30-minute cycle at 1M plays (~500 MB a day of a NAS disk's writes);
    #: a failed build's errors reach the pipeline's log either way.
    log_level_file: str = "warn"
    #: dbt's threads for a build of a few changed days (a cycle): its ~80 nodes are small, and
    #: a second thread runs one node's SQL while dbt's Python prepares the next. Whole builds
    #: and large imports keep one (two were OOM-killed at 400 MB on a first build at 1M).
    cycle_threads: int = 2


#: What ``dbt.log_level_file`` may say (dbt's ``--log-level-file``).
DBT_LOG_LEVELS = ("debug", "info", "warn", "error", "none")


@dataclass(frozen=True)
class SessionSettings:
    """Listening-session analytics."""

    idle_gap_minutes: int


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
    #: The other top-level sections, unvalidated until read through ``section()``.
    extra: dict[str, Any] = field(default_factory=dict)

    def account(self, name: str) -> AccountSettings:
        """Return the named account or fail with the list of known ones."""
        for account in self.accounts:
            if account.name == name:
                return account
        known = ", ".join(a.name for a in self.accounts)
        raise SettingsError(f"no account named {name!r} in config (configured accounts: {known})")
