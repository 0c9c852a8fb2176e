"""Persistent lookup state per service: what was asked, what came back, when to ask again.

Why SQLite (stdlib ``sqlite3``) and not DuckDB or Parquet: the state is small, updated row by row
and read by key, which is what SQLite is for; a DuckDB file would be one more file that can lock
(dbt and Metabase must never meet a second DuckDB writer), and Parquet cannot be updated in place.
One database per service (``state/lookups/<service>.sqlite``), so the three services running
concurrently never contend for a lock.

Every entity has one row: ``found`` and ``not_found`` are answers, due again only after their
refresh age; ``failed`` backs off exponentially across runs (``next_try_at``); ``partial`` means
we hold a simplified object (e.g. an album seen inside a track) and still want the full one.
Changes are kept in one transaction that the run commits after its partition has landed, so a
crash costs calls, never an answer that is in the state but not in the lake.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

FOUND, NOT_FOUND, FAILED, PARTIAL = "found", "not_found", "failed", "partial"

_SCHEMA = """
create table if not exists lookups (
    entity text not null,
    key text not null,
    status text not null,
    source text,
    attempts integer not null default 0,
    fetched_at text,
    next_try_at text,
    last_error text,
    primary key (entity, key)
);
create table if not exists calls (day text primary key, calls integer not null);
create table if not exists service (name text primary key, value text);
create table if not exists harvested (path text primary key, harvested_at text not null);
"""


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")


def _parse(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class Policy:
    """When an answer goes stale and how failures back off."""

    refresh_found: dt.timedelta
    refresh_not_found: dt.timedelta
    retry_base: dt.timedelta
    retry_max: dt.timedelta

    def backoff(self, attempts: int) -> dt.timedelta:
        """Wait after the ``attempts``-th consecutive failure: base, 2x, 4x... capped."""
        return min(self.retry_base * (2 ** max(attempts - 1, 0)), self.retry_max)


class StateUnreadable(Exception):
    """A lookup state file SQLite cannot open as a database (overwritten, cut short)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: not a readable lookup state ({reason})")
        self.path = path
        self.reason = reason


class LookupState:
    """The state of one service's lookups (one SQLite file)."""

    def __init__(self, path: Path, policy: Policy) -> None:
        """Open (or create) the state; ``StateUnreadable`` when SQLite finds no database there.

        Only what opening reads is checked (the header and the schema): a full check reads the
        whole file, ~20-30 ms at a million plays, on every run.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.policy = policy
        self.con = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            self.con.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self.con.close()
            raise StateUnreadable(path, str(exc)) from None
        self.con.execute("begin")

    # ---------- transaction
    def commit(self) -> None:
        """Make this run's changes durable (call after the run's partition is written)."""
        self.con.execute("commit")
        self.con.execute("begin")

    def close(self, commit: bool = True) -> None:
        if commit:
            self.con.execute("commit")
        else:
            self.con.execute("rollback")
        self.con.close()

    # ---------- entities
    def status(self, entity: str, key: str) -> str | None:
        row = self.con.execute(
            "select status from lookups where entity = ? and key = ?", (entity, key)
        ).fetchone()
        return None if row is None else str(row[0])

    def is_due(self, entity: str, key: str, now: dt.datetime) -> bool:
        """Whether ``key`` should be requested now (unknown, partial, stale, or retry time)."""
        row = self.con.execute(
            "select status, fetched_at, next_try_at from lookups where entity = ? and key = ?",
            (entity, key),
        ).fetchone()
        if row is None:
            return True
        status, fetched_at, next_try_at = row
        if status == PARTIAL:
            return True
        if status == FAILED:
            when = _parse(next_try_at)
            return when is None or when <= now
        fetched = _parse(fetched_at)
        if fetched is None:
            return True
        age = self.policy.refresh_found if status == FOUND else self.policy.refresh_not_found
        return fetched + age <= now

    def due(self, entity: str, keys: Iterable[str], now: dt.datetime) -> list[str]:
        """The keys (in the given order, without repeats) that are due now."""
        seen: set[str] = set()
        out: list[str] = []
        for key in keys:
            if key in seen:
                continue
            seen.add(key)
            if self.is_due(entity, key, now):
                out.append(key)
        return out

    def record(
        self,
        entity: str,
        key: str,
        status: str,
        now: dt.datetime,
        source: str = "",
        error: str | None = None,
    ) -> None:
        """Store an outcome: answers reset attempts; a failure schedules its next try."""
        if status == FAILED:
            row = self.con.execute(
                "select attempts from lookups where entity = ? and key = ? and status = ?",
                (entity, key, FAILED),
            ).fetchone()
            attempts = (int(row[0]) if row else 0) + 1
            next_try = _iso(now + self.policy.backoff(attempts))
        else:
            attempts, next_try = 0, None
        self.con.execute(
            "insert into lookups (entity, key, status, source, attempts, fetched_at, next_try_at,"
            " last_error) values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (entity, key) do update set"
            " status = excluded.status, source = excluded.source, attempts = excluded.attempts,"
            " fetched_at = excluded.fetched_at, next_try_at = excluded.next_try_at,"
            " last_error = excluded.last_error",
            (entity, key, status, source, attempts, _iso(now), next_try, error),
        )

    def mark_partial(self, entity: str, key: str, now: dt.datetime, source: str) -> bool:
        """Remember a simplified object unless the entity is already known; True if new."""
        if self.status(entity, key) is not None:
            return False
        self.record(entity, key, PARTIAL, now, source=source)
        return True

    def entries(self, entity: str) -> list[tuple[str, str, str]]:
        """(key, status, source) of every ``entity`` the state holds."""
        rows = self.con.execute(
            "select key, status, coalesce(source, '') from lookups where entity = ?", (entity,)
        ).fetchall()
        return [(str(k), str(s), str(src)) for k, s, src in rows]

    def restore(self, entity: str, answers: Iterable[tuple[str, str, str, dt.datetime]]) -> int:
        """Take (key, status, source, fetched_at) answers as they are (a state set aside is
        being rebuilt from the lake); the number taken."""
        rows = [(entity, k, status, source, _iso(at)) for k, status, source, at in answers]
        self.con.executemany(
            "insert or replace into lookups (entity, key, status, source, attempts, fetched_at)"
            " values (?, ?, ?, ?, 0, ?)",
            rows,
        )
        return len(rows)

    def forget(self, entity: str, keys: Iterable[str]) -> None:
        """Drop what the state knows of ``keys``: they are unknown, so due, again."""
        self.con.executemany(
            "delete from lookups where entity = ? and key = ?", [(entity, k) for k in keys]
        )

    def counts(self) -> dict[tuple[str, str], int]:
        """Entities by (entity, status), for ``music-tracker enrich status``."""
        return {
            (str(e), str(s)): int(n)
            for e, s, n in self.con.execute(
                "select entity, status, count(*) from lookups group by 1, 2 order by 1, 2"
            ).fetchall()
        }

    # ---------- calls and pauses
    def calls_on(self, day: dt.date) -> int:
        row = self.con.execute("select calls from calls where day = ?", (day.isoformat(),))
        found = row.fetchone()
        return int(found[0]) if found else 0

    def add_calls(self, day: dt.date, n: int) -> None:
        if n:
            self.con.execute(
                "insert into calls (day, calls) values (?, ?) on conflict (day) do update set"
                " calls = calls + excluded.calls",
                (day.isoformat(), n),
            )

    def get(self, name: str) -> str | None:
        row = self.con.execute("select value from service where name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def put(self, name: str, value: str | None) -> None:
        self.con.execute(
            "insert into service (name, value) values (?, ?) on conflict (name) do update set"
            " value = excluded.value",
            (name, value),
        )

    def resume_at(self) -> dt.datetime | None:
        """When a quota pause (429 with a long Retry-After, or an outage) ends; None if none."""
        return _parse(self.get("resume_at"))

    def pause_until(self, when: dt.datetime, reason: str) -> None:
        self.put("resume_at", _iso(when))
        self.put("pause_reason", reason)

    def clear_pause(self) -> None:
        self.put("resume_at", None)
        self.put("pause_reason", None)

    # ---------- harvested raw files
    def harvested_paths(self) -> set[str]:
        """Every raw file harvested: one query, where asking per file was one per saved poll
        (a year of them is ~11,000) on every check."""
        return {str(row[0]) for row in self.con.execute("select path from harvested")}

    def forget_harvested(self) -> None:
        """Harvest every raw poll again (it costs no call): its answers left the lake."""
        self.con.execute("delete from harvested")

    def mark_harvested(self, path: str, now: dt.datetime) -> None:
        self.con.execute(
            "insert or ignore into harvested (path, harvested_at) values (?, ?)", (path, _iso(now))
        )
