"""Call budgets per service: so many calls per run and per UTC day, counted in the state.

Spotify's development-mode quota (roughly 500-1,000 calls a day, then a 429 with a Retry-After of
many hours) is the reason: a 40,000-track history must converge over days, spending each day's
calls on what was listened to most, and never hit the wall mid-run if it can be avoided.
"""

from __future__ import annotations

import datetime as dt

from pipeline.enrich.state import LookupState


class BudgetExhausted(Exception):
    """No call left in this run's or this day's budget."""


class Budget:
    """Calls left for one service in one run (per-run and per-day caps)."""

    def __init__(self, state: LookupState, per_run: int, per_day: int, day: dt.date) -> None:
        self.state = state
        self.per_run = per_run
        self.per_day = per_day
        self.day = day
        self.spent = 0

    @property
    def remaining(self) -> int:
        left_today = self.per_day - self.state.calls_on(self.day)
        return max(0, min(self.per_run - self.spent, left_today))

    def check(self) -> None:
        """Raise BudgetExhausted when no call is left (call before each request)."""
        if self.remaining <= 0:
            which = "per-run" if self.spent >= self.per_run else "per-day"
            raise BudgetExhausted(f"{which} budget spent ({self.spent} calls this run)")

    def charge(self, calls: int) -> None:
        """Count calls actually made (retries included: quotas count them too)."""
        if calls > 0:
            self.spent += calls
            self.state.add_calls(self.day, calls)
