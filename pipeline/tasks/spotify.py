"""Poll Spotify's recently-played endpoint per account and land the new plays.

``IngestRecentlyPlayed(account, slot)`` is one poll: ``slot`` is the poll time rounded down to
``spotify.poll_interval_minutes`` (default: now), so every scheduled poll is its own task
instance and rerunning a slot that was polled is a no-op. A poll:

1. skips the account while a rate limit is in force (``resume_after`` in its state);
2. asks for the last 50 items (always 50, never ``after=``: items show up late and out of
   order, so each page is merged with what was landed before);
3. saves the response body untouched to
   ``raw/spotify/recently_played/account=<A>/date=<UTC poll day>/<poll_id>.json``
   *before* parsing it (a response byte-identical to the last landed one is not stored
   again: nothing was played since, and quiet nights would otherwise fill the disk);
4. lands the plays not landed before into
   ``staged/polls/v1/account=<A>/date=<played day>/<poll_id>.parquet`` (one file per day
   touched), quarantined items into ``staged/quarantine/source=api/<poll_id>.parquet`` and a
   detected gap into the ``gaps`` dataset; ``StagePlays(date)`` picks the poll files up;
5. records the outcome in the account's state file.

Every expected failure (no token, expired authorisation, missing scope, 403, quota, 5xx after
retries, an unreadable body) is logged once, shown in the task's status message and recorded
in the state; the task still finishes, so one account never stops the others' polls.
``PollRecentlyPlayed(slot)`` polls every configured account, then requires ``StagePlays`` for
every day the polls touched. Cron runs it, then ``DailyPipeline(today)``, every 30 minutes.

State file ``state/spotify/<account>.json`` (written atomically; read by ``music-tracker
status`` and notifications). Keys:

``account``
    The account name.
``cursor_ms`` / ``cursor_at``
    Newest ``played_at`` ever seen, Unix milliseconds / ISO UTC (null before the first poll).
``last_slot``
    ISO minute of the last slot handled (``IngestRecentlyPlayed.complete()`` compares it).
``last_poll_at``
    ISO UTC time of the last poll attempt (also set when a poll was skipped or failed).
``last_poll_status``
    ``ok``, ``skipped`` (rate limit still in force) or ``error``.
``last_success_at``
    ISO UTC time of the last poll that landed its response.
``resume_after``
    ISO UTC time before which the account is not polled (after a long 429), else null.
``last_error``
    Null after a success, else ``{"kind", "message", "at"}``; kinds: ``not_authorised``,
    ``reauth_required``, ``missing_scope``, ``forbidden``, ``rate_limited``, ``server_error``,
    ``bad_response``, ``no_answer`` (timeouts), ``config``, ``http_error``. ``message`` says
    what to do.
``plays_last_poll`` / ``items_last_poll``
    New plays landed by / items returned by the last successful poll.
``last_poll_id`` / ``last_raw`` / ``last_raw_sha256``
    Id, raw file (relative to the data dir) and hash of the last response kept. A response
    byte-identical to the last landed one (nothing played since) is not stored again.
``first_authorised_at`` / ``refresh_expires_at``
    When the account was authorised and when that authorisation ends (six months later).
``auth_warning``
    Text when the authorisation ends within ``spotify.refresh_warning_days``, else null.
``gaps_detected`` / ``last_gap``
    Count of gaps so far and the latest ``{"start", "end"}`` window.
``slots``
    The recent slots' outcomes ``{slot: {"status", "poll_id", "days", "plays"}}`` (last 96).
``quarantined``
    Keys of recently quarantined items, so a removed track listed for several polls is
    quarantined once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import luigi
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from luigi.parameter import _no_value

from pipeline import schemas
from pipeline.clients.http import BadResponse, HttpError, NoAnswer, RateLimited, utcnow
from pipeline.clients.spotify import (
    AccessDenied,
    MissingScope,
    NotAuthorised,
    ReauthRequired,
    SpotifyClient,
    SpotifyConfigError,
    load_token,
    refresh_expires_at,
    refresh_warning,
    spotify_settings,
    token_path,
)
from pipeline.io.atomic import write_bytes_atomic, write_json_atomic
from pipeline.io.parquet import write_parquet_atomic
from pipeline.paths import Lake
from pipeline.settings import get_settings
from pipeline.tasks.base import current_lake, status_message, timed_result
from pipeline.tasks.staging import StagePlays
from pipeline.transform.recently_played import (
    PollFormatError,
    detect_gap,
    new_plays,
    parse_recently_played,
    quarantine_key,
)

logger = logging.getLogger(__name__)

RECENTLY_PLAYED = "me/player/recently-played"
_SLOTS_KEPT = 96
_QUARANTINE_KEYS_KEPT = 500


# ---------------------------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------------------------


def load_state(the_lake: Lake, account: str) -> dict[str, Any]:
    """The account's polling state (an empty one before the first poll)."""
    path = the_lake.spotify_state(account)
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                return data
        except (OSError, ValueError):
            logger.warning("state file %s unreadable; starting from an empty state", path)
    return {"account": account, "cursor_ms": None, "slots": {}, "quarantined": []}


def save_state(the_lake: Lake, account: str, state: dict[str, Any]) -> None:
    slots = state.get("slots", {})
    state["slots"] = {k: slots[k] for k in sorted(slots)[-_SLOTS_KEPT:]}
    state["quarantined"] = list(state.get("quarantined", []))[-_QUARANTINE_KEYS_KEPT:]
    write_json_atomic(the_lake.spotify_state(account), state)


def _iso(when: dt.datetime | None) -> str | None:
    return when.isoformat() if when else None


def _parse_iso(value: Any) -> dt.datetime | None:
    if not value:
        return None
    when = dt.datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


# ---------------------------------------------------------------------------------------------
# Slots
# ---------------------------------------------------------------------------------------------


def slot_of(when: dt.datetime) -> dt.datetime:
    """``when`` (UTC) rounded down to the poll interval, naive as Luigi's parameters are."""
    minutes = max(1, spotify_settings().poll_interval_minutes)
    when = when.astimezone(dt.UTC).replace(tzinfo=None, second=0, microsecond=0)
    since_midnight = when.hour * 60 + when.minute
    return when - dt.timedelta(minutes=since_midnight % minutes)


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


def slot_key(slot: dt.datetime) -> str:
    return slot.strftime("%Y-%m-%dT%H:%M")


def slot_handled(last_slot: str | None, slot: dt.datetime, now: dt.datetime) -> bool:
    """Whether a state whose ``last_slot`` is ``last_slot`` has handled ``slot`` at ``now``.

    A ``last_slot`` later than the clock's own slot (the clock was stepped back, or a task was
    run by hand for a future slot) would make every poll before that time a silent no-op; it is
    logged and ignored instead, so the poll runs and writes the clock's slot (recovered).
    """
    if not last_slot:
        return False
    # Ahead of both the clock and the slot asked for: a task run by hand for a future slot is
    # handled once it ran (its own slot is recorded), not polled again and again.
    current = max(slot_key(slot_of(now)), slot_key(slot))
    if last_slot > current:
        logger.warning(
            "spotify poll state is ahead of the clock (last slot %s, now %s): polling again",
            last_slot,
            current,
        )
        return False
    return last_slot >= slot_key(slot)


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


# ---------------------------------------------------------------------------------------------
# Landing one response (used by live polls and by replays of raw/)
# ---------------------------------------------------------------------------------------------


@dataclass
class Landed:
    """What landing one response produced."""

    items: int = 0
    plays: int = 0
    quarantined: int = 0
    days: list[str] = field(default_factory=list)
    gap: dict[str, str] | None = None
    newest_ms: int | None = None


def known_play_ids(the_lake: Lake, account: str, days: list[dt.date]) -> set[str]:
    """play_ids already landed by earlier polls of this account on these days."""
    known: set[str] = set()
    for day in days:
        folder = the_lake.poll_file(account, day, "x").parent
        for path in sorted(folder.glob("*.parquet")):
            known.update(pq.read_table(path, columns=["play_id"])["play_id"].to_pylist())
    return known


def land_response(
    the_lake: Lake,
    account: str,
    body: bytes,
    poll_id: str,
    raw_path: Path,
    state: dict[str, Any],
) -> Landed:
    """Parse a kept response and write what is new; updates ``state`` (cursor, quarantine keys).

    Raises BadResponse (unreadable JSON) or PollFormatError (not a page); the raw file stays.
    """
    fetched_at = poll_time(poll_id)
    source_file = str(raw_path.relative_to(the_lake.root))
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadResponse(
            "spotify", f"recently-played body is not valid JSON ({exc}); kept as {source_file}"
        ) from exc
    try:
        parsed = parse_recently_played(payload, account, source_file)
    except PollFormatError as exc:
        raise BadResponse(
            "spotify", f"recently-played body is not a page ({exc}); kept as {source_file}"
        ) from exc
    landed = Landed(items=parsed.items, newest_ms=parsed.newest_ms)
    cursor = state.get("cursor_ms")
    gap = detect_gap(
        parsed, account, cursor, spotify_settings().page_limit, fetched_at, source_file
    )
    # Plays first, grouped by the UTC day they were played.
    plays = parsed.plays
    if plays.num_rows:
        day_col = pc.cast(plays["played_at"], pa.date32())
        days = sorted(set(day_col.to_pylist()))
        fresh = new_plays(plays, known_play_ids(the_lake, account, days))
        fresh_days = pc.cast(fresh["played_at"], pa.date32())
        for day in sorted(set(fresh_days.to_pylist())):
            part = fresh.filter(pc.equal(fresh_days, pa.scalar(day, pa.date32())))
            part = part.sort_by([("played_at", "ascending"), ("play_id", "ascending")])
            write_parquet_atomic(
                the_lake.poll_file(account, day, poll_id),
                part,
                provenance={"poll_id": poll_id, "account": account, "raw": source_file},
            )
            landed.days.append(day.isoformat())
        landed.plays = fresh.num_rows
    # Quarantine: each removed/broken item once, although it stays listed for several polls.
    seen = set(state.get("quarantined", []))
    rows = [r for r in parsed.quarantine.to_pylist() if quarantine_key(r) not in seen]
    if rows:
        write_parquet_atomic(
            the_lake.poll_quarantine(poll_id),
            pa.Table.from_pylist(rows, schema=schemas.QUARANTINE),
        )
        state["quarantined"] = list(state.get("quarantined", [])) + [
            quarantine_key(r) for r in rows
        ]
        landed.quarantined = len(rows)
    if gap.num_rows:
        write_parquet_atomic(the_lake.dated_partition("gaps", fetched_at.date(), poll_id), gap)
        start, end = gap["gap_start"][0].as_py(), gap["gap_end"][0].as_py()
        landed.gap = {"start": start.isoformat(), "end": end.isoformat()}
    if parsed.newest_ms is not None and (cursor is None or parsed.newest_ms > cursor):
        state["cursor_ms"] = parsed.newest_ms
        state["cursor_at"] = dt.datetime.fromtimestamp(parsed.newest_ms / 1000, dt.UTC).isoformat()
    return landed


# ---------------------------------------------------------------------------------------------
# One poll
# ---------------------------------------------------------------------------------------------


@dataclass
class PollOutcome:
    """One account's poll, for the task's status message and the wrapper."""

    account: str
    status: str  # ok, skipped, error
    message: str
    days: list[str] = field(default_factory=list)
    plays: int = 0
    error_kind: str | None = None


def error_kind(exc: Exception) -> str:
    """The state's ``last_error.kind`` for an exception."""
    kinds: list[tuple[type[Exception], str]] = [
        (NotAuthorised, "not_authorised"),
        (ReauthRequired, "reauth_required"),
        (MissingScope, "missing_scope"),
        (AccessDenied, "forbidden"),
        (RateLimited, "rate_limited"),
        (BadResponse, "bad_response"),
        (NoAnswer, "no_answer"),
        (SpotifyConfigError, "config"),
    ]
    for cls, kind in kinds:
        if isinstance(exc, cls):
            return kind
    if isinstance(exc, HttpError) and exc.status is not None and exc.status >= 500:
        return "server_error"
    return "http_error"


def _record_error(
    state: dict[str, Any], slot: dt.datetime, exc: Exception, now: dt.datetime
) -> PollOutcome:
    account = state["account"]
    kind = error_kind(exc)
    message = str(exc)
    state["last_error"] = {"kind": kind, "message": message, "at": now.isoformat()}
    state["last_poll_status"] = "error"
    if isinstance(exc, RateLimited):
        state["resume_after"] = exc.resume_at.isoformat()
    state["slots"][slot_key(slot)] = {"status": "error", "error": kind, "days": [], "plays": 0}
    level = logging.WARNING if kind in ("rate_limited", "not_authorised") else logging.ERROR
    logger.log(level, "spotify poll account=%s failed kind=%s: %s", account, kind, message)
    return PollOutcome(account, "error", f"{kind}: {message}", error_kind=kind)


def _same_as_last_success(the_lake: Lake, state: dict[str, Any], digest: str) -> bool:
    last = state.get("last_raw")
    return (
        bool(last)
        and state.get("last_raw_sha256") == digest
        and state.get("last_poll_status") == "ok"
        and (the_lake.root / str(last)).exists()
    )


def poll_account(
    account: str, slot: dt.datetime, client: SpotifyClient | None = None
) -> PollOutcome:
    """Poll one account once, land what is new, record the outcome in its state file."""
    the_lake = current_lake()
    get_settings().account(account)  # unknown account: a configuration error, raise
    state = load_state(the_lake, account)
    state.setdefault("slots", {})
    state["account"] = account
    now = utcnow()
    state["last_poll_at"] = now.isoformat()
    state["last_slot"] = slot_key(slot)
    resume = _parse_iso(state.get("resume_after"))
    if resume is not None and now < resume:
        state["last_poll_status"] = "skipped"
        state["slots"][slot_key(slot)] = {"status": "skipped", "days": [], "plays": 0}
        save_state(the_lake, account, state)
        message = f"rate limited: skipped until {resume:%Y-%m-%d %H:%M} UTC"
        logger.info("spotify poll account=%s %s", account, message)
        return PollOutcome(account, "skipped", message)
    state["resume_after"] = None
    token = load_token(account)
    if token:
        expires = refresh_expires_at(token)
        state["first_authorised_at"] = token.get("first_authorised_at")
        state["refresh_expires_at"] = _iso(expires)
        state["auth_warning"] = refresh_warning(account, token, now)
        if state["auth_warning"]:
            logger.warning("spotify %s", state["auth_warning"])
    client = client or SpotifyClient(account)
    try:
        limit = spotify_settings().page_limit
        response = client.get(RECENTLY_PLAYED, {"limit": limit})
        fetched_at = utcnow()
        digest = hashlib.sha256(response.body).hexdigest()
        if _same_as_last_success(the_lake, state, digest):
            # Byte-identical to the last landed response (nothing played since): no new raw
            # file, nothing to land. Saves ~a third of the raw volume (quiet nights).
            poll_id = str(state["last_poll_id"])
            landed = Landed(items=int(state.get("items_last_poll") or 0))
        else:
            poll_id = make_poll_id(account, fetched_at)
            raw_path = the_lake.raw_recently_played(account, fetched_at.date(), poll_id)
            write_bytes_atomic(raw_path, response.body)  # untouched, before anything parses it
            state["last_poll_id"] = poll_id
            state["last_raw"] = str(raw_path.relative_to(the_lake.root))
            state["last_raw_sha256"] = None
            landed = land_response(the_lake, account, response.body, poll_id, raw_path, state)
            state["last_raw_sha256"] = digest
    except HttpError as exc:
        outcome = _record_error(state, slot, exc, now)
        save_state(the_lake, account, state)
        return outcome
    state.update(
        last_poll_status="ok",
        last_success_at=fetched_at.isoformat(),
        last_error=None,
        plays_last_poll=landed.plays,
        items_last_poll=landed.items,
    )
    if landed.gap:
        state["gaps_detected"] = int(state.get("gaps_detected") or 0) + 1
        state["last_gap"] = landed.gap
        logger.warning(
            "spotify poll account=%s: gap, plays between %s and %s may be missing",
            account,
            landed.gap["start"],
            landed.gap["end"],
        )
    state["slots"][slot_key(slot)] = {
        "status": "ok",
        "poll_id": poll_id,
        "days": landed.days,
        "plays": landed.plays,
    }
    save_state(the_lake, account, state)
    message = f"{landed.plays} new plays of {landed.items} items"
    if landed.quarantined:
        message += f", {landed.quarantined} quarantined"
    if landed.gap:
        message += f", gap {landed.gap['start']} .. {landed.gap['end']}"
    logger.info("spotify poll account=%s %s", account, message)
    return PollOutcome(account, "ok", message, days=landed.days, plays=landed.plays)


def replay_raw_polls(the_lake: Lake, account: str) -> int:
    """Land every kept response of ``account`` again, oldest first (rebuilding staged/ from raw/).

    Poll files that exist are reused (their plays are known), so replaying is idempotent.
    Returns the number of plays landed.
    """
    state: dict[str, Any] = {"account": account, "cursor_ms": None, "quarantined": []}
    total = 0
    root = the_lake.raw_recently_played_dir(account)
    for raw in sorted(root.glob("date=*/*.json"), key=lambda p: p.stem):
        try:
            landed = land_response(the_lake, account, raw.read_bytes(), raw.stem, raw, state)
        except BadResponse as exc:
            logger.warning("replay: %s", exc)
            continue
        total += landed.plays
    return total


def replay_all_raw_polls(the_lake: Lake) -> int:
    """``replay_raw_polls`` for every configured account (``music-tracker rebuild`` calls it)."""
    return sum(replay_raw_polls(the_lake, a.name) for a in get_settings().accounts)


# ---------------------------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------------------------


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

    def run(self) -> None:
        with timed_result(self, "polls") as result:
            outcome = poll_account(self.account, self.slot)
            result["rows"] = outcome.plays
        status_message(self, f"{self.account}: {outcome.message}")


def slot_outcomes(the_lake: Lake, slot: dt.datetime) -> dict[str, dict[str, Any]]:
    """Each configured account's recorded outcome for ``slot``."""
    found = {}
    for account in get_settings().accounts:
        state = load_state(the_lake, account.name)
        found[account.name] = state.get("slots", {}).get(slot_key(slot), {})
    return found


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
