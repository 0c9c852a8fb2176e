"""Settings of the enrichment sections (``enrichment``, ``musicbrainz``, ``nominatim``,
``spotify_catalogue`` in config/base.yaml), validated through ``settings.section``."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline import settings as settings_mod

# The clients' sections live in settings, which clients may import (clients never import
# enrich/); re-exported here for the enrichment code that reads them.
from pipeline.settings import MusicBrainzSettings as MusicBrainzSettings
from pipeline.settings import NominatimSettings as NominatimSettings
from pipeline.settings import SpotifyCatalogueSettings as SpotifyCatalogueSettings


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


def enrichment() -> EnrichmentSettings:
    return settings_mod.section("enrichment", EnrichmentSettings)


def musicbrainz() -> MusicBrainzSettings:
    return settings_mod.section("musicbrainz", MusicBrainzSettings)


def nominatim() -> NominatimSettings:
    return settings_mod.section("nominatim", NominatimSettings)


def spotify_catalogue() -> SpotifyCatalogueSettings:
    return settings_mod.section("spotify_catalogue", SpotifyCatalogueSettings)
