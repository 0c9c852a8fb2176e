"""The schemas of the top-level sections read through ``section()`` (commented in base.yaml).

One frozen dataclass per section, declared here rather than beside the module that uses it,
so ``validate_sections()`` can check every setting at start-up without importing Luigi, the
HTTP clients or pyarrow. Defaults are the values used when a key is left out of the files;
the checks that span fields live in the accessors (``pipeline.settings.accessors``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipeline.settings.schema import PROJECT_ROOT, SettingsError
from pipeline.settings.units import memory_bytes

#: The webhook services ``notifications.webhook_kind`` may name (``pipeline.clients.webhook``).
WEBHOOK_KINDS = ("ntfy", "gotify", "slack", "discord", "json")


@dataclass(frozen=True)
class SpotifySettings:
    """The ``spotify:`` section of config/base.yaml (commented there)."""

    #: Poll recently-played at all (false: an export-only household, healthy without Spotify).
    enabled: bool = True
    api_base_url: str = "https://api.spotify.com/v1"
    accounts_base_url: str = "https://accounts.spotify.com"
    redirect_uri: str = "http://127.0.0.1:8888/callback"
    scopes: list[str] = field(default_factory=lambda: ["user-read-recently-played"])
    token_dir: Path | None = None
    poll_interval_minutes: int = 30
    page_limit: int = 50
    refresh_token_lifetime_days: int = 182
    refresh_warning_days: int = 14
    timeout_s: float = 20.0
    max_retries: int = 3
    backoff_s: float = 2.0
    max_wait_s: float = 30.0
    user_agent: str = "music-tracker/0.1"


@dataclass(frozen=True)
class EnrichmentSettings:
    """``enrichment`` section: what every enrichment service shares."""

    enabled: bool = True
    refresh_found_days: int = 180
    refresh_not_found_days: int = 30
    retry_base_minutes: int = 60
    retry_max_days: int = 7
    max_consecutive_failures: int = 5
    outage_pause_minutes: int = 60
    progress_every: int = 25


@dataclass(frozen=True)
class MusicBrainzSettings:
    """``musicbrainz`` section: MusicBrainz ws/2 (or a self-hosted mirror)."""

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
    """``nominatim`` section: Nominatim through geopy (public instance or your own)."""

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
    """``spotify_catalogue``: Web API catalogue lookups (per item only: batch ?ids= answers 403)."""

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
class LoggingSettings:
    """``logging`` section of the config."""

    level: str = "INFO"
    console_format: str = "auto"  # json | text | auto (text on a terminal, else json)
    file: str = "logs/pipeline.log"  # relative to paths.data_dir; "" disables the file
    max_bytes: int = 5_000_000
    backup_count: int = 5


@dataclass(frozen=True)
class SchedulerSettings:
    """``scheduler`` section: where luigid listens and how workers reach it."""

    url: str = "http://localhost:8082/"
    bind_address: str = "127.0.0.1"
    port: int = 8082
    connect_timeout_seconds: float = 3.0
    workers: int = 1


@dataclass(frozen=True)
class CronSettings:
    """``cron`` section."""

    poll_every_minutes: int = 30
    daily_at: str = "04:30"  # UTC, HH:MM
    daily_window_days: int = 14
    central_scheduler: bool = True
    run_poll_at_start: bool = True


@dataclass(frozen=True)
class NotificationSettings:
    """``notifications`` section."""

    webhook_kind: str = ""  # ntfy | gotify | slack | discord | json; "" = no webhook
    webhook_url: str = ""
    # Name of the environment variable holding the webhook token (ntfy/Gotify/JSON), if any.
    webhook_token_env: str = "MUSIC_TRACKER_WEBHOOK_TOKEN"
    email: bool = False
    repeat_hours: float = 24.0
    no_plays_hours: float = 12.0
    active_window_days: int = 14
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class StatusSettings:
    """``status`` section: thresholds of the healthcheck."""

    max_poll_age_hours: float = 2.0
    max_publish_age_hours: float = 36.0
    min_free_disk_mb: int = 500


@dataclass(frozen=True)
class MetabaseSettings:
    """``metabase`` section."""

    url: str = "http://localhost:3000"
    #: Dashboards as code (dashboards.yaml + cards/); a relative value in the files resolves
    #: against the project root like every path setting, and so does this default.
    config_dir: Path = PROJECT_ROOT / "config" / "metabase"
    admin_email: str = "admin@music-tracker.local"
    admin_first_name: str = "Music"
    admin_last_name: str = "Tracker"
    password_env: str = "MUSIC_TRACKER_METABASE_PASSWORD"
    site_name: str = "Music Tracker"
    database_file: str = ""
    duckdb_memory_limit: str = "192MiB"
    timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        # Metabase would only refuse a bad size when it tests the connection; say it here.
        try:
            memory_bytes(self.duckdb_memory_limit)
        except ValueError as exc:
            raise SettingsError(f"metabase.duckdb_memory_limit: {exc}") from None
