"""When the cron jobs run: a poll every N minutes and the daily gap-filling run once a day.

The schedule comes from the ``cron`` section of the config (``pipeline.settings.cron_settings``).
``music-tracker cron serve`` (the pipeline container's command) sleeps until the next due job
and runs it in a fresh subprocess, so memory goes back to the OS between runs;
``music-tracker cron crontab`` prints the same schedule as crontab lines for a host with a real
cron.
"""

from __future__ import annotations

import datetime as dt

from pipeline.settings import CronSettings, daily_time

JOBS = ("poll", "daily")


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
