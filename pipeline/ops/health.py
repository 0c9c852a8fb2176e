"""What ``music-tracker status`` reports, and what makes the installation unhealthy.

Everything is read from files the pipeline already writes, cheaply (Docker runs this as a
healthcheck every few minutes): per-account poll state (``state/spotify/<account>.json``) and
token cache (``state/tokens/<account>.json``, read itself: only the file knows whether it is
missing or corrupt), the day's plays partition, the last dbt build marker and its test results,
the publish manifest, the enrichment lookup state against what the staged plays want, and the
size of the data folder. The warehouse and the reporting DB are opened read-only for one query
and closed at once (never while a run holds the lake: a held ``build.duckdb`` fails dbt).

Polling switched off (``spotify.enabled: false``, or ``poll: false`` on every account) is
healthy: an export-only household needs no token.

Merge points with other features, read defensively (absent means "not used yet"):
``state/spotify/<account>.json`` keys ``last_poll_at, last_success_at, resume_after,
last_error ({kind, message, at}), slots, gaps_detected, last_gap``; ``state/lookups/`` files.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline import settings as settings_mod
from pipeline.clients.spotify import TokenCacheUnreadable, read_token, refresh_expires_at
from pipeline.paths import Lake
from pipeline.settings import spotify_settings, status_settings

# Arrow is imported by the readers of plays below, never by the healthcheck (collect_health):
# it runs every few minutes in the pipeline's container, beside the builds.

#: Lookup states that still need work.
BACKLOG_STATES = {"pending", "failed"}
_REVOKED = re.compile(r"(?i)invalid_grant|revoked|unauthori[sz]ed|\b401\b|re-?authori[sz]e")


@dataclass
class AccountStatus:
    """One listener's polling and token, as ``status`` shows them."""

    name: str
    #: Polling is switched on for this account (``spotify.enabled`` and ``accounts[].poll``).
    poll_enabled: bool = False
    #: Switched on and a poll of it was recorded (its state file exists): polls are happening.
    polling: bool = False
    last_poll_at: str | None = None
    last_success_at: str | None = None
    last_error: str | None = None
    resume_after: str | None = None
    #: ok, missing, corrupt, expiring, expired, revoked ("-" when polling is off).
    token: str = "-"
    token_expires_at: str | None = None
    token_problem: str | None = None
    gaps_detected: int = 0
    last_gap: str | None = None
    plays_today: int = 0
    last_play_at: str | None = None


@dataclass
class Status:
    now: str
    data_dir: str
    accounts: list[AccountStatus] = field(default_factory=list)
    #: Why polling is off for every account ("" when at least one account polls).
    polling_off: str = ""
    enrichment_backlog: dict[str, int] | str = "unknown"
    last_build: dict[str, Any] | None = None
    last_publish_at: str | None = None
    newest_play_at: str | None = None
    #: Per database file (warehouse, reporting): ok, missing, busy, or why it is unreadable.
    databases: dict[str, str] = field(default_factory=dict)
    data_bytes: int = 0
    free_bytes: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["healthy"] = self.healthy
        return out


def parse_time(value: Any) -> dt.datetime | None:
    """ISO text or epoch seconds/milliseconds -> aware UTC datetime (None if unreadable)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds") if value else None


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class TokenCheck:
    """What the account's token cache says: ok, missing, corrupt, expiring or expired."""

    state: str
    expires_at: dt.datetime | None = None
    detail: str = ""


def check_token(account: str, now: dt.datetime, warn_days: int) -> TokenCheck:
    """Read the token cache itself (not the poll state, which may be older or absent).

    Why the file: ``status`` must say ``missing`` before the first poll and ``corrupt`` when the
    file was truncated; only the file knows. Spotify ends an authorisation six months after the
    user agreed (``first_authorised_at`` + ``spotify.refresh_token_lifetime_days``).
    """
    try:
        token = read_token(account)
    except TokenCacheUnreadable as exc:
        return TokenCheck("corrupt", detail=str(exc))
    if token is None:
        return TokenCheck("missing")
    try:
        expiry = refresh_expires_at(token)
    except (TypeError, ValueError):
        return TokenCheck("corrupt", detail="first_authorised_at is not a date")
    if expiry is not None and expiry <= now:
        return TokenCheck("expired", expiry)
    if expiry is not None and expiry - now <= dt.timedelta(days=warn_days):
        return TokenCheck("expiring", expiry)
    return TokenCheck("ok", expiry)


def describe_error(error: Any) -> str | None:
    """``last_error`` of a poll state as one readable line ("rate_limited at ...: message")."""
    if not error:
        return None
    if isinstance(error, dict):
        kind = str(error.get("kind") or "error")
        at = parse_time(error.get("at"))
        when = f" at {at:%Y-%m-%d %H:%M} UTC" if at else ""
        message = " ".join(str(error.get("message") or "").split())
        return f"{kind}{when}: {message}" if message else f"{kind}{when}"
    return " ".join(str(error).split())


def _slot_time(key: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(key, "%Y-%m-%dT%H:%M").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def polling_since(state: dict[str, Any]) -> dt.datetime | None:
    """The earliest poll attempt the state remembers (its oldest slot, or the last attempt)."""
    slots = state.get("slots")
    times = [_slot_time(k) for k in slots] if isinstance(slots, dict) else []
    known = [t for t in times if t is not None]
    last = parse_time(state.get("last_poll_at"))
    if last is not None:
        known.append(last)
    return min(known) if known else None


def lake_busy(the_lake: Lake) -> bool:
    """Whether another process holds the lake's writer lock (an import, build or cron run).

    While one does, dbt may be about to open (or holding) ``build.duckdb`` read-write: opening
    it here, even read-only, would make that build fail, so the databases are not opened.
    The lock is only probed (taken shared and released at once), never held.
    """
    import errno
    import fcntl

    from pipeline.ops.lock import LAKE_LOCK

    path = the_lake.lock_file(LAKE_LOCK)
    if not path.exists():
        return False
    holder = read_json(path) or {}
    if holder.get("pid") == os.getpid():
        return False  # this process holds it (a cron run collecting after its phases)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError as exc:
        return exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK)
    finally:
        os.close(fd)
    return False


def probe_duckdb(path: Path, query: Callable[[Any], Any] | None = None) -> tuple[str, Any]:
    """Open ``path`` read-only, run ``query(con)``, close at once: ("ok", value) or (why, None).

    Why so brief: DuckDB lets a file have one read-write process or many read-only ones, never
    both, so a status that kept the warehouse open would make the next ``dbt build`` fail.
    """
    import duckdb

    from pipeline.io.duck import connect

    if not path.exists():
        return "missing", None
    try:
        con = connect(path, read_only=True)  # capped, like every work connection
    except duckdb.Error as exc:
        text = " ".join(str(exc).split())
        if "conflicting lock" in text.lower() or "could not set lock" in text.lower():
            return "busy", None
        return f"unreadable ({text[:160]})", None
    try:
        con.execute("select count(*) from duckdb_tables()").fetchone()
        return "ok", (query(con) if query else None)
    except duckdb.Error as exc:
        return f"unreadable ({' '.join(str(exc).split())[:160]})", None
    finally:
        con.close()


def _newest_play(con: Any) -> dt.datetime | None:
    """max(played_at) of the warehouse's fct_plays (None before the first build)."""
    row = con.execute(
        "select count(*) from duckdb_tables() "
        "where schema_name = 'marts' and table_name = 'fct_plays'"
    ).fetchone()
    if not row or not row[0]:
        return None
    newest = con.execute("select max(played_at) from marts.fct_plays").fetchone()
    value = newest[0] if newest else None
    if not isinstance(value, dt.datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def check_databases(the_lake: Lake, status: Status) -> None:
    """The warehouse and the reporting DB open and answer; the newest play in the warehouse."""
    if lake_busy(the_lake):
        status.databases = {"warehouse": "busy", "reporting": "busy"}
        status.warnings.append("a run holds the lake: databases not opened (checked next time)")
        return
    state, newest = probe_duckdb(the_lake.warehouse, _newest_play)
    status.databases["warehouse"] = state
    if newest is not None:
        status.newest_play_at = _iso(newest)
    status.databases["reporting"] = probe_duckdb(the_lake.reporting_db)[0]
    for name, path in (("warehouse", the_lake.warehouse), ("reporting", the_lake.reporting_db)):
        if status.databases[name].startswith("unreadable"):
            status.problems.append(
                f"{name} database {path} is {status.databases[name]}: "
                "run `music-tracker rebuild` to recreate it from raw/"
            )


def plays_by_account(the_lake: Lake, day: dt.date) -> dict[str, int]:
    """Plays of one UTC day per account, from the staged partition and that day's polls."""
    import pyarrow.parquet as pq

    counts: dict[str, int] = {}
    part = the_lake.plays_partition(day)
    if part.exists():
        table = pq.read_table(part, columns=["account"])
        for row in table.group_by("account").aggregate([("account", "count")]).to_pylist():
            counts[row["account"]] = int(row["account_count"])
    return counts


#: Each file's newest play per account, as last read (``last_play_by_account``).
LAST_PLAYS_FILE = "last_plays.json"


def _newest_in(path: Path) -> dict[str, str]:
    """Newest ``played_at`` per account in one plays or poll file (ISO), read with Arrow."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=["account", "played_at"])
    except (OSError, pa.ArrowInvalid, KeyError):
        return {}
    if table.num_rows == 0:
        return {}
    agg = table.group_by("account").aggregate([("played_at", "max")]).to_pylist()
    return {
        str(row["account"]): row["played_at_max"].isoformat()
        for row in agg
        if row["played_at_max"] is not None
    }


def _is_kept_entry(entry: object) -> bool:
    """An entry of the shape ``last_play_by_account`` writes: {"stamp", "day", "newest":
    {account: ISO time}} (any other, from a damaged or edited memo, is read again)."""
    if not isinstance(entry, dict):
        return False
    newest = entry.get("newest")
    return (
        isinstance(entry.get("stamp"), str)
        and isinstance(entry.get("day"), str)
        and isinstance(newest, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in newest.items())
    )


def last_play_by_account(
    the_lake: Lake, now: dt.datetime, days: int, accounts: list[str] | None = None
) -> dict[str, dt.datetime]:
    """Newest ``played_at`` per account over the last ``days`` partitions and poll files.

    Read newest day first: plays are filed by their UTC day, so an account's newest play is in
    the newest day holding any of its plays, and once every one of ``accounts`` has one, older
    days cannot change the answer (a cron run asks after every poll; the fourteen days of a
    busy lake are ~240 files, the last day a few). Each file's answer is kept under its stamp
    (``state/last_plays.json``): a cron run with nothing new reads no Parquet and loads no
    Arrow (~30 MB, ~0.1 s of each of a day's 48 runs).
    """
    from pipeline.io.atomic import write_json_atomic
    from pipeline.io.duck import file_stamp

    memo_file = the_lake.state / LAST_PLAYS_FILE
    files = (read_json(memo_file) or {}).get("files")
    held: dict[str, Any] = files if isinstance(files, dict) else {}
    first_day = (now - dt.timedelta(days=days)).date().isoformat()
    kept = {
        key: entry
        for key, entry in held.items()
        if _is_kept_entry(entry) and entry["day"] >= first_day
    }
    newest: dict[str, dt.datetime] = {}
    for offset in range(days + 1):
        day = (now - dt.timedelta(days=offset)).date()
        files = sorted(the_lake.polls_dir.glob(f"account=*/date={day.isoformat()}/*.parquet"))
        part = the_lake.plays_partition(day)
        if part.exists():
            files.insert(0, part)
        for path in files:
            stamp = file_stamp(path)
            if stamp is None:
                continue
            key = str(path.relative_to(the_lake.root))
            entry = kept.get(key)
            if entry is None or entry.get("stamp") != stamp:
                entry = {"stamp": stamp, "day": day.isoformat(), "newest": _newest_in(path)}
                kept[key] = entry
            for account, iso in entry["newest"].items():
                when = parse_time(iso)
                if when is not None and (account not in newest or when > newest[account]):
                    newest[account] = when
        if accounts is not None and all(a in newest for a in accounts):
            break
    if kept != held:
        try:
            write_json_atomic(memo_file, {"files": kept})
        except OSError:  # a read-only lake or another user's `status`: only a memo
            pass
    return newest


def newest_staged_play(the_lake: Lake) -> dt.datetime | None:
    """The newest play in the staged partitions (before any build), newest partition first."""
    import pyarrow as pa
    import pyarrow.compute  # noqa: F401 - pa.compute
    import pyarrow.parquet as pq

    days = sorted(the_lake.plays_dir.glob("date=*"), reverse=True)
    for day in days[:3]:
        for path in day.glob("*.parquet"):
            try:
                table = pq.read_table(path, columns=["played_at"])
            except (OSError, pa.ArrowInvalid, KeyError):
                continue
            if table.num_rows:
                value = pa.compute.max(table["played_at"]).as_py()
                if value is not None:
                    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return None


def _wanted_keys(the_lake: Lake) -> dict[str, tuple[str, list[str]]]:
    """Per service, the (entity, keys) its enrichment task wants, as the task computes them.

    Places come from MusicBrainz's answers, so they are only known once artists were looked up.
    """
    from pipeline.clients.spotify_catalogue import is_spotify_id
    from pipeline.enrich.candidates import (
        artist_candidates,
        latest_found,
        track_metadata,
        track_stats,
    )
    from pipeline.enrich.runs import MB_ARTISTS
    from pipeline.transform import geo

    stats = track_stats(the_lake)
    if not stats:
        return {}
    tracks = list(
        dict.fromkeys(s.track_id for s in stats if s.track_id and is_spotify_id(s.track_id))
    )
    artists = [c.key for c in artist_candidates(stats, track_metadata(the_lake))]
    places: set[str] = set()
    for artist in latest_found(the_lake, MB_ARTISTS, "lookup_key").values():
        place = geo.origin_of(artist)
        if place is not None:
            places.add(place.key)
    return {
        "spotify_api": ("track", tracks),
        "musicbrainz": ("artist", artists),
        "nominatim": ("place", sorted(places)),
    }


def enrichment_backlog(the_lake: Lake, now: dt.datetime) -> dict[str, int] | str:
    """Lookups each service still owes: never asked, failed and due again, or stale.

    Counted against what the enrichment tasks want from the staged plays, so a lake where
    nothing was ever enriched shows every artist and track as backlog, not 0.
    """
    from pipeline.enrich.runs import open_state
    from pipeline.enrich.state import StateUnreadable

    try:
        wanted = _wanted_keys(the_lake)
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not crash
        return f"unknown ({type(exc).__name__}: {exc})"
    if not wanted:
        return "nothing to enrich yet (no plays staged)"
    backlog: dict[str, int] = {}
    for service, (entity, keys) in wanted.items():
        if not the_lake.lookup_state_db(service).exists():
            backlog[service] = len(set(keys))
            continue
        try:
            state = open_state(the_lake, service, repair=False)
        except StateUnreadable as exc:
            return f"unknown ({exc}; the next enrichment run sets it aside and rebuilds it)"
        try:
            backlog[service] = len(state.due(entity, keys, now))
        finally:
            state.close(commit=False)
    return backlog


def last_build(the_lake: Lake) -> dict[str, Any] | None:
    """The newest dbt build: when, status, and its test results (pass/fail/warn/error)."""
    from pipeline.io.markers import latest_marker

    found = latest_marker(the_lake.dbt_runs_dir, "run_results.json")
    candidates: list[tuple[float, dict[str, Any]]] = []
    if found:
        marker_path = the_lake.dbt_run_marker(found[0])
        candidates.append((marker_path.stat().st_mtime, {"marker": found[1], "ok": True}))
    # A failed build leaves no marker; DbtBuild keeps its results in state/ instead.
    failed_record = the_lake.failed_build_record
    data = read_json(failed_record)
    if data is not None:
        candidates.append((failed_record.stat().st_mtime, {"marker": data, "ok": None}))
    if not candidates:
        return None
    mtime, best = max(candidates, key=lambda c: c[0])
    marker = best["marker"]
    tests: dict[str, int] = {}
    failing: list[str] = []
    for result in marker.get("results", []) or []:
        uid = str(result.get("unique_id", ""))
        status = str(result.get("status"))
        if uid.startswith(("test.", "unit_test.")):
            tests[status] = tests.get(status, 0) + 1
            if status in ("fail", "error"):
                failing.append(uid.split(".")[-2] if uid.count(".") >= 2 else uid)
    statuses = [str(r.get("status")) for r in marker.get("results", []) or []]
    failed = any(s in ("fail", "error") for s in statuses) or marker.get("status") == "failed"
    return {
        "at": _iso(dt.datetime.fromtimestamp(mtime, dt.UTC)),
        "status": "failed" if failed else str(marker.get("status", "success")),
        "tests": tests,
        "failing": failing[:10],
        "date": marker.get("date"),
    }


def dir_size(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    return total


def _account_polling(
    the_lake: Lake, acc: AccountStatus, now: dt.datetime, status: Status, warn_days: int
) -> None:
    """Token, poll age, errors and gaps of one account that is set to poll."""
    cfg = status_settings()
    name = acc.name
    auth = f"run `music-tracker auth {name}`"
    state = read_json(the_lake.spotify_state(name))
    token = check_token(name, now, warn_days)
    acc.token = token.state
    acc.token_expires_at = _iso(token.expires_at)
    if state is not None:
        acc.polling = True
        acc.last_poll_at = _iso(parse_time(state.get("last_poll_at")))
        acc.last_success_at = _iso(parse_time(state.get("last_success_at")))
        acc.last_error = describe_error(state.get("last_error"))
        acc.resume_after = _iso(parse_time(state.get("resume_after")))
        acc.gaps_detected = int(state.get("gaps_detected") or 0)
        gap = state.get("last_gap")
        if isinstance(gap, dict) and gap.get("start"):
            acc.last_gap = f"{gap.get('start')} .. {gap.get('end')}"
    error = state.get("last_error") if state else None
    revoked = (
        bool(error)
        and bool(_REVOKED.search(json.dumps(error, default=str)))
        and token.state in ("ok", "expiring")
    )
    if token.state == "missing":
        acc.token_problem = f"missing: {auth} to authorise this listener"
    elif token.state == "corrupt":
        acc.token_problem = f"corrupt (the token cache is unusable): {auth} again"
    elif token.state == "expired":
        acc.token_problem = f"expired on {token.expires_at:%Y-%m-%d}: {auth} again"
    elif revoked:
        acc.token = "revoked"
        acc.token_problem = f"revoked or refused by Spotify: {auth} again"
    elif token.state == "expiring" and token.expires_at is not None:
        days = max(0, (token.expires_at - now).days)
        acc.token_problem = (
            f"expires {token.expires_at:%Y-%m-%d} (in {days} days): {auth} before then"
        )
    if acc.token_problem and acc.token == "expiring":
        status.warnings.append(f"{name}: Spotify token {acc.token_problem}")
    elif acc.token_problem:
        status.problems.append(f"{name}: Spotify token {acc.token_problem}")
    if acc.gaps_detected:
        status.warnings.append(
            f"{name}: {acc.gaps_detected} poll gap(s) detected, last {acc.last_gap or '?'} "
            "(plays may be missing there: import your Spotify export to fill them)"
        )
    if state is None:
        return
    limit = dt.timedelta(hours=cfg.max_poll_age_hours)
    success = parse_time(state.get("last_success_at"))
    resume = parse_time(state.get("resume_after"))
    if resume and resume > now:
        status.warnings.append(f"{name}: rate limited until {acc.resume_after}")
        return
    if success is not None:
        if now - success > limit:
            status.problems.append(
                f"{name}: no successful poll for over {cfg.max_poll_age_hours:g} h "
                f"(last {acc.last_success_at})"
            )
        return
    since = polling_since(state)
    if since is not None and now - since > limit:
        status.problems.append(
            f"{name}: no successful poll in the {cfg.max_poll_age_hours:g} h since polling "
            f"started ({_iso(since)})"
        )
    elif acc.last_error and not acc.token_problem:
        status.warnings.append(f"{name}: the first poll failed ({acc.last_error})")


def polling_off_reason(settings: settings_mod.Settings) -> str:
    """Why no account polls ("" when one does): the switch, or every account's ``poll``."""
    if not spotify_settings().enabled:
        return "spotify.enabled: false"
    if not any(a.poll for a in settings.accounts):
        return "no account has poll: true"
    return ""


def collect_accounts(
    the_lake: Lake, now: dt.datetime | None = None, *, last_plays: bool = True
) -> Status:
    """Each account's token, polling and (``last_plays``) last play, with their problems.

    What a cron run's notifications read. The rest of ``collect`` (the enrichment backlog over
    every staged play with a lookup-state query per key, the databases, the lake's size) took
    ~1.5 s and ~100 MB of every cron run that polled nothing, 48 times a day, for a status
    nobody reads then.
    """
    now = now or dt.datetime.now(dt.UTC)
    settings = settings_mod.get_settings()
    status = Status(now=_iso(now) or "", data_dir=str(the_lake.root))
    if not the_lake.root.is_dir():
        status.problems.append(f"data folder {the_lake.root} does not exist")
        return status
    names = [account.name for account in settings.accounts]
    newest = last_play_by_account(the_lake, now, 14, names) if last_plays else {}
    # The same window the poller warns in (spotify.refresh_warning_days).
    warn_days = spotify_settings().refresh_warning_days
    status.polling_off = polling_off_reason(settings)
    for account in settings.accounts:
        acc = AccountStatus(name=account.name)
        acc.last_play_at = _iso(newest.get(account.name))
        acc.poll_enabled = not status.polling_off and account.poll
        if acc.poll_enabled:
            _account_polling(the_lake, acc, now, status, warn_days)
        status.accounts.append(acc)
    return status


def collect_health(
    the_lake: Lake, now: dt.datetime | None = None, *, last_plays: bool = False
) -> Status:
    """Every problem that makes the installation unhealthy, and only what decides them.

    ``music-tracker status --health``, Docker's healthcheck of the pipeline container every
    five minutes. It reads no play (no Arrow) and, while a run holds the lake, opens no
    database (no DuckDB): run beside a cycle's dbt build in the container's 400 MB, the full
    ``status`` (~190 MB at a million plays) got dbt killed for memory (measured: one overlap in
    five).
    """
    now = now or dt.datetime.now(dt.UTC)
    cfg = status_settings()
    status = collect_accounts(the_lake, now, last_plays=last_plays)
    if not the_lake.root.is_dir():
        return status
    status.last_build = last_build(the_lake)
    if status.last_build and status.last_build["status"] == "failed":
        failing = ", ".join(status.last_build["failing"]) or "see the log"
        status.problems.append(f"last dbt build failed ({failing})")
    from pipeline.io.markers import latest_marker

    published = latest_marker(the_lake.staged / "published", "manifest.json")
    if published:
        path = the_lake.publish_marker(published[0])
        at = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
        status.last_publish_at = _iso(at)
        if now - at > dt.timedelta(hours=cfg.max_publish_age_hours) and any(
            a.polling for a in status.accounts
        ):
            status.problems.append(
                f"reporting data is stale: last published {status.last_publish_at}"
            )
    check_databases(the_lake, status)
    status.free_bytes = shutil.disk_usage(the_lake.root).free
    if status.free_bytes < cfg.min_free_disk_mb * 1024 * 1024:
        status.problems.append(
            f"only {status.free_bytes // 1048576} MB free on the data volume "
            f"(minimum {cfg.min_free_disk_mb} MB)"
        )
    if not os.access(the_lake.root, os.W_OK):
        status.problems.append(f"data folder {the_lake.root} is not writable")
    return status


def collect(the_lake: Lake, now: dt.datetime | None = None) -> Status:
    """Everything ``status`` shows: ``collect_health`` and what is only shown (plays today,
    last plays, the enrichment backlog, the lake's size)."""
    now = now or dt.datetime.now(dt.UTC)
    status = collect_health(the_lake, now, last_plays=True)
    if not the_lake.root.is_dir():
        return status
    today = plays_by_account(the_lake, now.date())
    for acc in status.accounts:
        acc.plays_today = today.get(acc.name, 0)
    if lake_busy(the_lake):
        # Counting it reads every staged play and every lookup (~100 MB at a million plays):
        # beside a build in the pipeline's 400 MB container that is what gets dbt killed.
        status.enrichment_backlog = "not counted while a run holds the lake (ask again after it)"
    else:
        status.enrichment_backlog = enrichment_backlog(the_lake, now)
    if status.newest_play_at is None:
        status.newest_play_at = _iso(newest_staged_play(the_lake))
    status.data_bytes = dir_size(the_lake.root)
    return status


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def render(status: Status) -> str:
    """Human-readable status (what ``music-tracker status`` prints)."""
    lines = [
        f"Music Tracker status at {status.now}: {'HEALTHY' if status.healthy else 'UNHEALTHY'}"
    ]
    lines.append(f"data: {status.data_dir}")
    lines.append("")
    if status.polling_off:
        lines.append(f"polling: off ({status.polling_off}); exports only")
    lines.append("accounts:")
    for acc in status.accounts:
        if not acc.poll_enabled:
            poll = "polling off"
        elif acc.polling:
            poll = f"last successful poll {acc.last_success_at or 'never'}"
        else:
            poll = "not polled yet"
        lines.append(f"  {acc.name}: {poll}; plays today {acc.plays_today}")
        lines.append(f"    last play {acc.last_play_at or '-'}")
        if acc.poll_enabled:
            if acc.token_problem:
                token = f"{acc.token}: {acc.token_problem.split(': ', 1)[-1]}"
                if acc.token == "expiring":
                    token = f"expiring: {acc.token_problem}"
            else:
                token = "ok" + (f", expires {acc.token_expires_at}" if acc.token_expires_at else "")
            lines.append(f"    token: {token}")
            if acc.last_error:
                lines.append(f"    last error: {acc.last_error}")
            if acc.gaps_detected:
                lines.append(f"    gaps: {acc.gaps_detected} detected, last {acc.last_gap}")
            else:
                lines.append("    gaps: none detected")
    backlog = status.enrichment_backlog
    if isinstance(backlog, dict):
        text = ", ".join(f"{k} {v}" for k, v in backlog.items())
    else:
        text = backlog
    lines.append(f"enrichment backlog: {text}")
    build = status.last_build
    if build:
        tests = ", ".join(f"{k} {v}" for k, v in sorted(build["tests"].items())) or "no tests"
        lines.append(f"last build: {build['at']} {build['status']} (tests: {tests})")
    else:
        lines.append("last build: never")
    lines.append(f"last published for Metabase: {status.last_publish_at or 'never'}")
    for name in ("warehouse", "reporting"):
        if name in status.databases:
            lines.append(f"{name} database: {status.databases[name]}")
    lines.append(f"newest play: {status.newest_play_at or '-'}")
    lines.append(f"disk: data/ uses {_size(status.data_bytes)}, {_size(status.free_bytes)} free")
    for problem in status.problems:
        lines.append(f"PROBLEM: {problem}")
    for warning in status.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)
