"""Typed settings, loaded once from ``config/`` and the environment: the one place that reads them.

Every public name is importable from here (``from pipeline.settings import get_settings``);
the modules each have one job:

- ``schema``: the core ``Settings`` and its sections, ``SettingsError``, ``PROJECT_ROOT``;
- ``sections``: the schema of every other top-level section (``spotify``, ``cron``...);
- ``accessors``: one typed accessor per section and ``validate_sections()``;
- ``loader``: the layering of files, environment and command line; ``section()``;
- ``build``: YAML mapping to frozen dataclass, with the dotted name of any bad setting;
- ``environment``: secrets and the early log switches, read straight from the environment;
- ``units``: sizes written as text ("192MiB");
- ``yaml_file``: one YAML file a person edits, read with its encoding and its mistakes named.

Importing the package costs PyYAML and the standard library only: ``validate_sections()`` runs
at every command's start.
"""

from pipeline.settings.accessors import (
    SECTIONS,
    cron_settings,
    daily_time,
    enrichment_settings,
    logging_settings,
    metabase_settings,
    musicbrainz_settings,
    nominatim_settings,
    notification_settings,
    scheduler_settings,
    spotify_catalogue_settings,
    spotify_settings,
    status_settings,
    validate_sections,
)
from pipeline.settings.environment import early_logging, secret, secret_values
from pipeline.settings.loader import (
    ENV_PREFIX,
    ENVIRONMENTS,
    Overrides,
    child_environment,
    env_name,
    get_settings,
    load_settings,
    reload_settings,
    section,
    use_overrides,
)
from pipeline.settings.schema import (
    PROJECT_ROOT,
    AccountSettings,
    DbtSettings,
    DedupeSettings,
    DuckDBSettings,
    ImportSettings,
    PathsSettings,
    SessionSettings,
    Settings,
    SettingsError,
)
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
from pipeline.settings.units import memory_bytes
from pipeline.settings.yaml_file import YamlFileError, read_yaml

__all__ = [
    "ENVIRONMENTS",
    "ENV_PREFIX",
    "PROJECT_ROOT",
    "SECTIONS",
    "WEBHOOK_KINDS",
    "AccountSettings",
    "CronSettings",
    "DbtSettings",
    "DedupeSettings",
    "DuckDBSettings",
    "EnrichmentSettings",
    "ImportSettings",
    "LoggingSettings",
    "MetabaseSettings",
    "MusicBrainzSettings",
    "NominatimSettings",
    "NotificationSettings",
    "Overrides",
    "PathsSettings",
    "SchedulerSettings",
    "SessionSettings",
    "Settings",
    "SettingsError",
    "SpotifyCatalogueSettings",
    "SpotifySettings",
    "StatusSettings",
    "YamlFileError",
    "child_environment",
    "cron_settings",
    "daily_time",
    "early_logging",
    "enrichment_settings",
    "env_name",
    "get_settings",
    "load_settings",
    "logging_settings",
    "memory_bytes",
    "metabase_settings",
    "musicbrainz_settings",
    "nominatim_settings",
    "notification_settings",
    "read_yaml",
    "reload_settings",
    "scheduler_settings",
    "secret",
    "secret_values",
    "section",
    "spotify_catalogue_settings",
    "spotify_settings",
    "status_settings",
    "use_overrides",
    "validate_sections",
]
