"""One typed accessor per top-level section, and ``validate_sections()`` that reads them all.

An accessor reads its section through ``section()`` (typos and types) and adds the checks that
span values (``cron.poll_every_minutes`` must divide a day...). Modules that use a section call
its accessor; the CLI calls ``validate_sections()`` before any work, so a wrongly typed value
such as ``MUSIC_TRACKER__STATUS__MAX_POLL_AGE_HOURS=x`` stops the program with one line naming
it. Everything here imports only the settings package: checking the configuration must not cost
a command the import of Luigi, the HTTP clients or pyarrow (a no-op cycle has 0.5 s in all).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pipeline.settings.build import address_problem
from pipeline.settings.loader import section
from pipeline.settings.schema import SettingsError
from pipeline.settings.sections import (
    WEBHOOK_KINDS,
    CronSettings,
    EnrichmentSettings,
    LoggingSettings,
    MetabaseSettings,
    MusicBrainzSettings,
    NominatimSettings,
    NotificationSettings,
    SchedulerSettings,
    SpotifyCatalogueSettings,
    SpotifySettings,
    StatusSettings,
)


def spotify_settings() -> SpotifySettings:
    """The validated ``spotify`` section (the ranges the Web API and the slots allow)."""
    cfg = section("spotify", SpotifySettings)
    if not 1 <= cfg.page_limit <= 50:
        # Spotify answers 400 to anything else, at every poll.
        raise SettingsError("spotify.page_limit: must be 1..50 (the API returns at most 50)")
    if not _divides_a_day(cfg.poll_interval_minutes):
        raise SettingsError(
            "spotify.poll_interval_minutes: must divide a day (1..1440, e.g. 15, 30, 60)"
        )
    if cfg.timeout_s <= 0:  # the others are 0 or more, as every number in the settings
        raise SettingsError("spotify.timeout_s: must be above 0")
    return cfg


def _divides_a_day(minutes: int) -> bool:
    """Whether slots of ``minutes`` tile a UTC day (polls and cron both start at midnight)."""
    return 1 <= minutes <= 1440 and 1440 % minutes == 0


def enrichment_settings() -> EnrichmentSettings:
    return section("enrichment", EnrichmentSettings)


def musicbrainz_settings() -> MusicBrainzSettings:
    return section("musicbrainz", MusicBrainzSettings)


def nominatim_settings() -> NominatimSettings:
    """The validated ``nominatim`` section: geopy joins ``scheme://domain``, so the two must
    make an address (a domain written as a URL gave ``https://https://...`` at every call)."""
    cfg = section("nominatim", NominatimSettings)
    problem = address_problem(f"{cfg.scheme}://{cfg.domain}")
    if problem or "/" in cfg.domain:
        raise SettingsError(
            f"nominatim.scheme and nominatim.domain: {cfg.scheme!r} and {cfg.domain!r} must be "
            "http or https and a host (with a port if needed), e.g. nominatim.local:8080"
        )
    return cfg


def spotify_catalogue_settings() -> SpotifyCatalogueSettings:
    return section("spotify_catalogue", SpotifyCatalogueSettings)


def logging_settings() -> LoggingSettings:
    cfg = section("logging", LoggingSettings)
    if cfg.console_format not in ("json", "text", "auto"):
        raise SettingsError("logging.console_format: must be json, text or auto")
    return cfg


def scheduler_settings() -> SchedulerSettings:
    return section("scheduler", SchedulerSettings)


def cron_settings() -> CronSettings:
    cfg = section("cron", CronSettings)
    if not _divides_a_day(cfg.poll_every_minutes):
        raise SettingsError("cron.poll_every_minutes: must divide a day (1..1440, e.g. 15, 30, 60)")
    daily_time(cfg)
    if cfg.daily_window_days < 1:
        raise SettingsError("cron.daily_window_days: must be at least 1")
    return cfg


def daily_time(cfg: CronSettings) -> dt.time:
    """``cron.daily_at`` as a time of day (UTC), or SettingsError naming it."""
    try:
        return dt.time.fromisoformat(cfg.daily_at)
    except ValueError as exc:
        raise SettingsError(f"cron.daily_at: {cfg.daily_at!r} is not HH:MM (UTC)") from exc


def notification_settings() -> NotificationSettings:
    cfg = section("notifications", NotificationSettings)
    if cfg.webhook_kind and cfg.webhook_kind not in WEBHOOK_KINDS:
        raise SettingsError(
            f"notifications.webhook_kind: {cfg.webhook_kind!r} is not one of "
            f"{', '.join(WEBHOOK_KINDS)}"
        )
    if cfg.webhook_kind and not cfg.webhook_url:
        raise SettingsError("notifications.webhook_url: required with webhook_kind")
    return cfg


def status_settings() -> StatusSettings:
    return section("status", StatusSettings)


def metabase_settings() -> MetabaseSettings:
    return section("metabase", MetabaseSettings)


#: Every top-level section besides the core ones of ``Settings``, with its accessor. A new
#: section in ``config/base.yaml`` must be listed here (``tests/unit/test_settings.py`` fails
#: otherwise), or ``validate_sections()`` would not check it at start-up.
SECTIONS: dict[str, Callable[[], object]] = {
    "spotify": spotify_settings,
    "enrichment": enrichment_settings,
    "musicbrainz": musicbrainz_settings,
    "nominatim": nominatim_settings,
    "spotify_catalogue": spotify_catalogue_settings,
    "logging": logging_settings,
    "scheduler": scheduler_settings,
    "cron": cron_settings,
    "notifications": notification_settings,
    "status": status_settings,
    "metabase": metabase_settings,
}


def validate_sections() -> None:
    """Read every registered section once; raise SettingsError naming the first bad setting."""
    for name, read in SECTIONS.items():
        try:
            read()
        except SettingsError:
            raise
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"{name}: {exc}") from exc
