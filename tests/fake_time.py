"""A clock for enrichment runs (the ``RunContext`` seams) that moves only when something sleeps.

Tests never sleep for real: rate limits, Retry-After and backoff advance this clock instead, and
the waits asked for are kept in ``sleeps`` so a test can check them.
"""

from __future__ import annotations

import datetime as dt


class FakeTime:
    """Clock, sleep and UTC now that only move when something sleeps or the test says so."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.start = start or dt.datetime.now(dt.UTC)
        self.t = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.t += max(seconds, 0.0)

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.t)

    def advance(self, **delta: float) -> None:
        self.t += dt.timedelta(**delta).total_seconds()
