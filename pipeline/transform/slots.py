"""Poll slots and poll ids: the clock arithmetic of recently-played polling.

Pure functions: datetimes and strings in, datetimes and strings out; no settings, files or
clock (the caller passes the poll interval and the time it is now).
"""

from __future__ import annotations

import datetime as dt


def future_day_problem(day: dt.date, now: dt.datetime) -> str | None:
    """Why ``day`` cannot be a task's UTC day at ``now``, or None.

    The latest is tomorrow (UTC): an account at UTC+14 is already there. A day further ahead has
    no plays and nothing to build (and 9999-12-31 crashed Luigi's run summary, which asks for
    the day after).
    """
    latest = now.astimezone(dt.UTC).date() + dt.timedelta(days=1)
    if day > latest:
        return f"{day.isoformat()} is in the future (the latest day is {latest.isoformat()})"
    return None


def round_to_slot(when: dt.datetime, minutes: int) -> dt.datetime:
    """``when`` (UTC) rounded down to a ``minutes`` interval, naive as Luigi's parameters are."""
    minutes = max(1, minutes)
    when = when.astimezone(dt.UTC).replace(tzinfo=None, second=0, microsecond=0)
    since_midnight = when.hour * 60 + when.minute
    return when - dt.timedelta(minutes=since_midnight % minutes)


def slot_key(slot: dt.datetime) -> str:
    """A slot as the state file writes it: ISO minute, ``2026-11-25T20:30``."""
    return slot.strftime("%Y-%m-%dT%H:%M")


def slot_is_ahead(last_slot: str, slot: dt.datetime, clock_slot: dt.datetime) -> bool:
    """Whether a recorded ``last_slot`` is later than both the clock's slot and ``slot``."""
    return last_slot > max(slot_key(clock_slot), slot_key(slot))


def make_poll_id(account: str, fetched_at: dt.datetime) -> str:
    """Sortable and unique per account and poll: ``20261125T203015123Z-me``."""
    fetched_at = fetched_at.astimezone(dt.UTC)
    return f"{fetched_at:%Y%m%dT%H%M%S}{fetched_at.microsecond // 1000:03d}Z-{account}"


def poll_time(poll_id: str) -> dt.datetime:
    """The fetch time encoded in a poll id."""
    stamp = poll_id.split("Z-", 1)[0]
    return dt.datetime.strptime(stamp[:15], "%Y%m%dT%H%M%S").replace(
        microsecond=int(stamp[15:18] or 0) * 1000, tzinfo=dt.UTC
    )
