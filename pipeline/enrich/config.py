"""Settings of the enrichment sections (``enrichment``, ``musicbrainz``, ``nominatim``,
``spotify_catalogue`` in config/base.yaml), validated through ``settings.section``."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline import settings as settings_mod


@dataclass(frozen=True)
class EnrichmentSettings:
    """What every enrichment service shares."""

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


def enrichment() -> EnrichmentSettings:
    return settings_mod.section("enrichment", EnrichmentSettings)


def musicbrainz() -> MusicBrainzSettings:
    return settings_mod.section("musicbrainz", MusicBrainzSettings)


def nominatim() -> NominatimSettings:
    return settings_mod.section("nominatim", NominatimSettings)


def spotify_catalogue() -> SpotifyCatalogueSettings:
    return settings_mod.section("spotify_catalogue", SpotifyCatalogueSettings)
