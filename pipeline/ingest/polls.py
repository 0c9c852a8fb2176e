"""Poll Spotify's recently-played endpoint per account and land the new plays (no Luigi).

``IngestRecentlyPlayed(account, slot)`` (``pipeline.tasks.spotify``) is one poll: ``slot`` is
the poll time rounded down to ``spotify.poll_interval_minutes`` (default: now), so every
scheduled poll is its own task instance and rerunning a slot that was polled is a no-op. A poll:

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

A poll is two steps, so Luigi sees the raw file between them: ``fetch_poll`` (steps 1 to 3:
the raw file is kept before anything parses it) and ``land_poll`` (steps 4 and 5, reading the
kept file back); ``IngestRecentlyPlayed`` requires the kept file as ``RawPoll`` in between.
``poll_account`` is both at once. ``replay_raw_polls`` lands every kept response again
(``music-tracker rebuild``). The state file is ``pipeline.ingest.poll_state``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

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
)
from pipeline.ingest.poll_state import load_state, save_state
from pipeline.io.atomic import write_bytes_atomic
from pipeline.io.parquet import write_parquet_atomic
from pipeline.paths import Lake, lake
from pipeline.settings import get_settings, spotify_settings
from pipeline.transform.export import Limits
from pipeline.transform.recently_played import (
    PollFormatError,
    detect_gap,
    new_plays,
    parse_recently_played,
    quarantine_key,
)
from pipeline.transform.slots import make_poll_id, poll_time, slot_key

logger = logging.getLogger(__name__)

RECENTLY_PLAYED = "me/player/recently-played"


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
        # The range rule's clock is the poll's (from its ID), so a replay of raw/ agrees.
        limits = Limits.at(fetched_at, get_settings().import_.max_future_minutes)
        parsed = parse_recently_played(payload, account, source_file, limits)
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
# One poll: fetch (the raw file is kept), then land
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


@dataclass
class Fetched:
    """A poll up to its raw file: what ``land_poll`` needs to finish it."""

    account: str
    slot: dt.datetime
    state: dict[str, Any]
    now: dt.datetime  # when the poll started (the state's last_poll_at)
    #: Set when the poll is over already (skipped, or failed before a response was kept).
    outcome: PollOutcome | None = None
    poll_id: str = ""
    fetched_at: dt.datetime | None = None
    #: The response kept in raw/, to land; None when it was byte-identical to the last one
    #: landed (not kept again, nothing to land).
    raw_path: Path | None = None
    digest: str = ""


def fetch_poll(account: str, slot: dt.datetime, client: SpotifyClient | None = None) -> Fetched:
    """Poll one account once and keep the response in raw/ untouched, before anything parses it.

    A skipped poll (rate limit in force) or a failed one is recorded in the state file here,
    and ``Fetched.outcome`` says so; otherwise the state is saved by ``land_poll``.
    """
    the_lake = lake()
    get_settings().account(account)  # unknown account: a configuration error, raise
    state = load_state(the_lake, account)
    state.setdefault("slots", {})
    state["account"] = account
    now = utcnow()
    state["last_poll_at"] = now.isoformat()
    state["last_slot"] = slot_key(slot)
    fetched = Fetched(account, slot, state, now)
    resume = _parse_iso(state.get("resume_after"))
    if resume is not None and now < resume:
        state["last_poll_status"] = "skipped"
        state["slots"][slot_key(slot)] = {"status": "skipped", "days": [], "plays": 0}
        save_state(the_lake, account, state)
        message = f"rate limited: skipped until {resume:%Y-%m-%d %H:%M} UTC"
        logger.info("spotify poll account=%s %s", account, message)
        fetched.outcome = PollOutcome(account, "skipped", message)
        return fetched
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
    except HttpError as exc:
        fetched.outcome = _record_error(state, slot, exc, now)
        save_state(the_lake, account, state)
        return fetched
    fetched.fetched_at = utcnow()
    fetched.digest = hashlib.sha256(response.body).hexdigest()
    if _same_as_last_success(the_lake, state, fetched.digest):
        # Byte-identical to the last landed response (nothing played since): no new raw
        # file, nothing to land. Saves ~a third of the raw volume (quiet nights).
        fetched.poll_id = str(state["last_poll_id"])
        return fetched
    fetched.poll_id = make_poll_id(account, fetched.fetched_at)
    raw_path = the_lake.raw_recently_played(account, fetched.fetched_at.date(), fetched.poll_id)
    write_bytes_atomic(raw_path, response.body)  # untouched, before anything parses it
    state["last_poll_id"] = fetched.poll_id
    state["last_raw"] = str(raw_path.relative_to(the_lake.root))
    state["last_raw_sha256"] = None
    fetched.raw_path = raw_path
    return fetched


def land_poll(fetched: Fetched) -> PollOutcome:
    """Land what ``fetch_poll`` kept (read back from raw/), record the outcome in the state."""
    if fetched.outcome is not None:
        return fetched.outcome
    the_lake = lake()
    account, slot, state = fetched.account, fetched.slot, fetched.state
    assert fetched.fetched_at is not None
    if fetched.raw_path is None:
        landed = Landed(items=int(state.get("items_last_poll") or 0))
    else:
        body = fetched.raw_path.read_bytes()
        try:
            landed = land_response(
                the_lake, account, body, fetched.poll_id, fetched.raw_path, state
            )
        except HttpError as exc:
            outcome = _record_error(state, slot, exc, _parse_iso(state["last_poll_at"]) or utcnow())
            save_state(the_lake, account, state)
            return outcome
        state["last_raw_sha256"] = fetched.digest
    state.update(
        last_poll_status="ok",
        last_success_at=fetched.fetched_at.isoformat(),
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
        "poll_id": fetched.poll_id,
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


def poll_account(
    account: str, slot: dt.datetime, client: SpotifyClient | None = None
) -> PollOutcome:
    """Poll one account once, land what is new, record the outcome in its state file."""
    return land_poll(fetch_poll(account, slot, client))


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
# Helpers
# ---------------------------------------------------------------------------------------------


def _iso(when: dt.datetime | None) -> str | None:
    return when.isoformat() if when else None


def _parse_iso(value: Any) -> dt.datetime | None:
    if not value:
        return None
    when = dt.datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
