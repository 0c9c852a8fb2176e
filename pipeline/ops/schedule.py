"""When the cron jobs run: a poll every N minutes and the daily gap-filling run once a day.

The schedule comes from the ``cron`` section of the config. ``music-tracker cron serve`` (the
pipeline container's command) sleeps until the next due job and runs it in a fresh
subprocess, so memory goes back to the OS between runs; ``music-tracker cron crontab`` prints
the same schedule as crontab lines for a host with a real cron.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pipeline import settings as settings_mod

JOBS = ("poll", "daily")


@dataclass(frozen=True)
class CronSettings:
    """``cron`` section."""

    poll_every_minutes: int = 30
    daily_at: str = "04:30"  # UTC, HH:MM
    daily_window_days: int = 14
    central_scheduler: bool = True
    run_poll_at_start: bool = True


def cron_settings() -> CronSettings:
    cfg: CronSettings = settings_mod.section("cron", CronSettings)
    if not 1 <= cfg.poll_every_minutes <= 1440 or 1440 % cfg.poll_every_minutes:
        raise settings_mod.SettingsError(
            "cron.poll_every_minutes: must divide a day (1..1440, e.g. 15, 30, 60)"
        )
    daily_time(cfg)
    if cfg.daily_window_days < 1:
        raise settings_mod.SettingsError("cron.daily_window_days: must be at least 1")
    return cfg


def daily_time(cfg: CronSettings) -> dt.time:
    try:
        return dt.time.fromisoformat(cfg.daily_at)
    except ValueError as exc:
        raise settings_mod.SettingsError(
            f"cron.daily_at: {cfg.daily_at!r} is not HH:MM (UTC)"
        ) from exc


def next_run(job: str, after: dt.datetime, cfg: CronSettings) -> dt.datetime:
    """The first time strictly after ``after`` (UTC) at which ``job`` is due."""
    after = after.astimezone(dt.UTC)
    if job == "poll":
        step = cfg.poll_every_minutes
        midnight = after.replace(hour=0, minute=0, second=0, microsecond=0)
        minutes = (after - midnight).total_seconds() / 60
        slots = int(minutes // step) + 1
        return midnight + dt.timedelta(minutes=slots * step)
    if job == "daily":
        at = daily_time(cfg)
        candidate = after.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
        return candidate if candidate > after else candidate + dt.timedelta(days=1)
    raise ValueError(f"unknown cron job {job!r}")


def crontab(cfg: CronSettings, command: str = "music-tracker") -> str:
    """The schedule as crontab lines (UTC), for hosts that run a real cron."""
    at = daily_time(cfg)
    step = cfg.poll_every_minutes
    if step < 60:
        poll = f"*/{step} * * * *"
    else:
        poll = f"0 */{step // 60} * * *"
    return (
        "# Music Tracker (times in UTC: set CRON_TZ=UTC or run cron in UTC)\n"
        f"{poll} {command} cron poll\n"
        f"{at.minute} {at.hour} * * * {command} cron daily\n"
    )
