"""Every path template of the data lake, in one place.

Zones (see data/README.md): ``raw/`` exactly as received and append-only, ``staged/`` the Luigi
targets (Parquet), ``state/`` cursors, lookup state and token caches, ``warehouse/`` the DuckDB
file dbt builds, ``reporting/`` what Metabase opens read-only. Dated partitions use the Hive form
``date=YYYY-MM-DD`` so both Luigi's RangeDaily and DuckDB's hive_partitioning understand them.
A breaking schema change bumps the version segment of the dataset it touches.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from pipeline.settings import get_settings

#: The dated datasets dbt reads, under ``staged/<name>/v1/date=D/`` (their Arrow schemas:
#: ``schemas.DATED_DATASETS``). Here, without Arrow: a build checks they exist before dbt.
DBT_DATED_DATASETS = (
    "lookups/spotify_tracks",
    "lookups/spotify_albums",
    "lookups/spotify_artists",
    "lookups/musicbrainz_artists",
    "lookups/geo_places",
    "gaps",
)


def date_dir(date: dt.date) -> str:
    """The Hive partition segment for a UTC day."""
    return f"date={date.isoformat()}"


@dataclass(frozen=True)
class Lake:
    """Path templates rooted at one data directory."""

    root: Path

    # ---------- zones
    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def staged(self) -> Path:
        return self.root / "staged"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def warehouse_dir(self) -> Path:
        return self.root / "warehouse"

    @property
    def reporting_dir(self) -> Path:
        return self.root / "reporting"

    # ---------- raw
    def raw_export(self, file_id: str, name: str) -> Path:
        """An imported export file, kept byte for byte under its content hash."""
        return self.raw / "exports" / file_id / name

    def raw_recently_played(self, account: str, poll_day: dt.date, poll_id: str) -> Path:
        """One recently-played response, byte for byte, under the UTC day the poll ran."""
        return self.raw_recently_played_dir(account) / date_dir(poll_day) / f"{poll_id}.json"

    def raw_recently_played_dir(self, account: str) -> Path:
        """One account's raw recently-played polls."""
        return self.raw_recently_played_root / f"account={account}"

    # ---------- staged
    def import_unit(self, file_id: str) -> Path:
        """All plays parsed from one imported file (one unit per raw file)."""
        return self.staged / "imports" / "v1" / f"{file_id}.parquet"

    def import_quarantine(self, file_id: str) -> Path:
        """Rows of one imported file that could not become plays, with the reason."""
        return self.staged / "quarantine" / "source=export" / f"{file_id}.parquet"

    @property
    def import_units_dir(self) -> Path:
        return self.staged / "imports" / "v1"

    @property
    def polls_dir(self) -> Path:
        """Plays landed from recently-played polls: polls/account=A/date=D/<poll>.parquet."""
        return self.staged / "polls" / "v1"

    def poll_file(self, account: str, date: dt.date, poll_id: str) -> Path:
        """New plays of one poll that were played on ``date`` (UTC)."""
        return self.polls_dir / f"account={account}" / date_dir(date) / f"{poll_id}.parquet"

    def poll_quarantine(self, poll_id: str) -> Path:
        """Items of one poll that could not become plays (removed tracks...), with the reason."""
        return self.staged / "quarantine" / "source=api" / f"{poll_id}.parquet"

    def plays_partition(self, date: dt.date) -> Path:
        """The deduplicated plays of one UTC day, from every source."""
        return self.staged / "plays" / "v1" / date_dir(date) / "part-0.parquet"

    @property
    def plays_dir(self) -> Path:
        return self.staged / "plays" / "v1"

    def dated_dir(self, dataset: str) -> Path:
        """Root of a dated dataset of ``schemas.DATED_DATASETS`` (e.g. "lookups/geo_places")."""
        return self.staged / dataset / "v1"

    def dated_partition(self, dataset: str, date: dt.date, name: str = "part-0") -> Path:
        """One partition file of a dated dataset."""
        return self.dated_dir(dataset) / date_dir(date) / f"{name}.parquet"

    @property
    def listeners_file(self) -> Path:
        """The household's listeners (from config), for dbt."""
        return self.staged / "reference" / "listeners.parquet"

    def dbt_run_marker(self, date: dt.date) -> Path:
        return self.staged / "dbt_runs" / date_dir(date) / "run_results.json"

    @property
    def dbt_runs_dir(self) -> Path:
        return self.staged / "dbt_runs"

    def publish_marker(self, date: dt.date) -> Path:
        return self.staged / "published" / date_dir(date) / "manifest.json"

    @property
    def failed_build_record(self) -> Path:
        """dbt's results of this lake's last failed build (a success leaves a dbt_runs marker)."""
        return self.state / "dbt" / "last_failed_build.json"

    @property
    def plays_changed_dates_file(self) -> Path:
        """Days of staged plays the running build must reload (read by dbt's stg_spotify__plays)."""
        return self.state / "dbt" / "plays_changed_dates.json"

    # ---------- state
    def spotify_token(self, account: str, token_dir: Path | None = None) -> Path:
        """An account's OAuth token cache (mode 0600); ``token_dir`` overrides state/tokens."""
        return (token_dir or self.state / "tokens") / f"{account}.json"

    def spotify_state(self, account: str) -> Path:
        """Per-account polling state (cursor, last poll, errors); keys in ingest/poll_state.py."""
        return self.spotify_state_dir / f"{account}.json"

    # ---------- enrichment
    def lookup_state_db(self, service: str) -> Path:
        """Per-entity lookup state and call counters of one service (SQLite, not DuckDB)."""
        return self.lookup_state_dir / f"{service}.sqlite"

    def raw_enrichment(self, service: str, date: dt.date, run_id: str) -> Path:
        """Every response of one enrichment run, one JSON object per line, as received."""
        return self.raw / service / date_dir(date) / f"{run_id}.jsonl"

    @property
    def raw_recently_played_root(self) -> Path:
        """Raw recently-played polls (written by ingestion): account=A/date=D/<poll>.json."""
        return self.raw / "spotify" / "recently_played"

    # ---------- warehouse and reporting
    @property
    def warehouse(self) -> Path:
        return self.warehouse_dir / "build.duckdb"

    @property
    def reporting_db(self) -> Path:
        return self.reporting_dir / "reporting.duckdb"

    @property
    def reporting_marts_dir(self) -> Path:
        return self.reporting_dir / "marts"

    def reporting_mart_dir(self, name: str) -> Path:
        """A published mart in the current generation (``pipeline.reporting``): a folder of
        Parquet parts, read as ``<folder>/*.parquet``; absent while nothing is published."""
        ledgers = sorted(self.reporting_marts_dir.glob("generation=*/published.json"))
        return (ledgers[0].parent if ledgers else self.reporting_marts_dir / "unpublished") / name

    # ---------- operations (scheduler, cron, notifications, logs)
    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def luigi_dir(self) -> Path:
        """luigid's state pickle and task-history SQLite (not part of a backup)."""
        return self.root / "luigi"

    @property
    def spill_dir(self) -> Path:
        """Where the pipeline's DuckDB connections spill beyond their memory limit.

        DuckDB's default for an in-memory connection is ``.tmp`` in the working directory: the
        image's read-only /app, or a stray folder in the user's clone (one 1M import left
        280 MB there). In the lake, it is on the data volume and cleaned with it.
        """
        return self.state / "duckdb_spill"

    def lock_file(self, name: str) -> Path:
        return self.state / "locks" / f"{name}.lock"

    @property
    def notifications_state(self) -> Path:
        """When each kind of notification was last sent (to avoid repeating it every run)."""
        return self.state / "notifications.json"

    @property
    def spotify_state_dir(self) -> Path:
        return self.state / "spotify"

    @property
    def lookup_state_dir(self) -> Path:
        """Per-entity enrichment lookup state (written by the enrichment tasks)."""
        return self.state / "lookups"

    @property
    def gaps_dir(self) -> Path:
        return self.dated_dir("gaps")


def lake() -> Lake:
    """The lake of the current settings."""
    return Lake(get_settings().paths.data_dir)
