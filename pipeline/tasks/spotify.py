"""Luigi wiring of the recently-played polls: ``IngestRecentlyPlayed`` per account and slot.

``IngestRecentlyPlayed(account, slot)`` is one poll of one account: it fetches and keeps the
response in raw/ (``pipeline.ingest.polls.fetch_poll``), then requires that file as the
outside input ``RawPoll`` and lands it (``land_poll``). ``PollRecentlyPlayed(slot)`` polls
every polling account, then stages every day the polls touched; ``PollSucceeded(account,
slot)`` is FAILED when that account could not poll. What a poll does, and its state file, are
described in ``pipeline.ingest.polls`` and ``pipeline.ingest.poll_state``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import luigi
from luigi.parameter import _no_value

from pipeline.clients.http import utcnow
from pipeline.clients.spotify import token_path
from pipeline.ingest.poll_state import load_state, slot_outcomes
from pipeline.ingest.slots import slot_handled, slot_of
from pipeline.settings import get_settings
from pipeline.tasks.base import current_lake, status_message, timed_result
from pipeline.tasks.staging import StagePlays
from pipeline.transform.slots import slot_key


class SlotParameter(luigi.DateMinuteParameter):
    """A UTC minute rounded down to ``spotify.poll_interval_minutes``; defaults to now."""

    def _get_value(self, task_name: str | None, param_name: str | None) -> Any:
        value = super()._get_value(task_name, param_name)
        return slot_of(utcnow()) if value == _no_value else value

    def normalize(self, x: Any) -> Any:
        if x is None:
            return None
        if not isinstance(x, dt.datetime):
            x = dt.datetime.combine(x, dt.time())
        if x.tzinfo is None:
            x = x.replace(tzinfo=dt.UTC)
        return slot_of(x)


class RawPoll(luigi.ExternalTask):
    """One recently-played response kept in raw/: the outside input a poll's landing parses.

    ``file`` is relative to the data dir. A kept file that is gone makes its poll MISSING in
    Luigi's summary and the visualiser, named with its path (exit code ``missing_data``).
    """

    file: str = luigi.Parameter(
        description="raw/spotify/recently_played/account=A/date=D/<poll_id>.json, in the lake"
    )

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(current_lake().root / self.file))


class IngestRecentlyPlayed(luigi.Task):
    """One recently-played poll of one account (a slot is polled once)."""

    account: str = luigi.Parameter(description="Listener named in config (accounts)")
    slot: dt.datetime = SlotParameter(
        description="Poll time, UTC, rounded down to spotify.poll_interval_minutes (default now)"
    )
    priority = 20  # inputs land before staging (10) and the build (0) in one run

    def complete(self) -> bool:
        state = load_state(current_lake(), self.account)
        return slot_handled(state.get("last_slot"), self.slot, utcnow())

    def run(self) -> Iterator[RawPoll]:
        from pipeline.ingest.polls import fetch_poll, land_poll  # the work: see tasks/__init__

        with timed_result(self, "polls") as result:
            fetched = fetch_poll(self.account, self.slot)  # the raw file is kept first
            if fetched.raw_path is not None:
                # Landing parses the kept file: a file gone by now is a MISSING input in Luigi.
                yield RawPoll(file=str(fetched.raw_path.relative_to(current_lake().root)))
            outcome = land_poll(fetched)
            result["rows"] = outcome.plays
        status_message(self, f"{self.account}: {outcome.message}")


class PollRecentlyPlayed(luigi.Task):
    """Poll every configured account for one slot, then stage every day the polls touched."""

    slot: dt.datetime = SlotParameter(
        description="Poll time, UTC, rounded down to spotify.poll_interval_minutes (default now)"
    )

    def requires(self) -> list[IngestRecentlyPlayed]:
        return [
            IngestRecentlyPlayed(account=a.name, slot=self.slot)
            for a in get_settings().accounts
            if a.poll  # accounts[].poll: false = exports only for that listener
        ]

    def checks(self) -> list[PollSucceeded]:
        """One ``PollSucceeded`` per account polled: run after the build (cron's last phase)."""
        return [PollSucceeded(account=t.account, slot=t.slot) for t in self.requires()]

    def touched_days(self) -> list[dt.date]:
        days: set[str] = set()
        for outcome in slot_outcomes(current_lake(), self.slot).values():
            days.update(outcome.get("days", []))
        return [dt.date.fromisoformat(d) for d in sorted(days)]

    def complete(self) -> bool:
        if not all(t.complete() for t in self.requires()):
            return False
        return all(StagePlays(date=d).complete() for d in self.touched_days())

    def run(self) -> Any:
        yield [StagePlays(date=d) for d in self.touched_days()]
        outcomes = slot_outcomes(current_lake(), self.slot)
        summary = ", ".join(
            f"{name}: {o.get('status', 'not polled')}"
            + (f" ({o['error']})" if o.get("error") else "")
            + (f" +{o['plays']}" if o.get("plays") else "")
            for name, o in outcomes.items()
        )
        status_message(self, summary)


#: Poll errors that are not a failure of the run: Spotify asked us to wait, and we do.
_NOT_FAILURES = ("rate_limited",)


class PollSucceeded(luigi.Task):
    """One account's poll of ``slot`` got an answer: FAILED in Luigi when it could not poll.

    ``IngestRecentlyPlayed`` records a failed poll (``not_authorised``...) in the account's
    state and finishes, so the other accounts' plays still land and get built; this task is
    what makes that account's failure visible in the visualiser, the task history and the exit
    code. It runs after the build (cron's last phase), so it never holds up the others.
    A rate-limited poll (Spotify said wait) and an account never authorised are not failures.
    """

    account: str = luigi.Parameter(description="Listener named in config (accounts)")
    slot: dt.datetime = SlotParameter(
        description="Poll time, UTC, rounded down to spotify.poll_interval_minutes (default now)"
    )

    def requires(self) -> IngestRecentlyPlayed:
        return IngestRecentlyPlayed(account=self.account, slot=self.slot)

    def outcome(self) -> dict[str, Any]:
        state = load_state(current_lake(), self.account)
        return dict(state.get("slots", {}).get(slot_key(self.slot), {}))

    def complete(self) -> bool:
        found = self.outcome()
        if not found:
            return False
        if found.get("status") != "error" or found.get("error") in _NOT_FAILURES:
            return True
        # Never authorised (no token cache at all): polling is not set up for this listener
        # (an export-only household), which `status` reports; not a failure of every run.
        return not token_path(self.account).exists()

    def run(self) -> None:
        found = self.outcome()
        if not found:
            raise RuntimeError(f"spotify poll of {self.account} for {self.slot}: not recorded")
        error = load_state(current_lake(), self.account).get("last_error") or {}
        raise RuntimeError(
            f"spotify poll of {self.account} failed ({found.get('error')}): "
            f"{error.get('message', 'see music-tracker status')}"
        )
