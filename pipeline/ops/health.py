"""What ``music-tracker status`` reports, and what makes the installation unhealthy.

Everything is read from files the pipeline already writes, cheaply (Docker runs this as a
healthcheck every few minutes): per-account poll state (``state/spotify/<account>.json``), the
day's plays partition, the last dbt build marker and its test results, the publish manifest,
the enrichment lookup state, and the size of the data folder.

Merge points with other features, read defensively (absent means "not used yet"):
``state/spotify/<account>.json`` keys ``cursor_ms, last_poll_at, last_success_at, resume_after,
last_error, first_authorised_at, plays_last_poll`` and optionally ``token_expires_at``;
``state/lookups/`` files whose records carry a ``status``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import settings as settings_mod
from pipeline.clients.spotify import load_token, refresh_expires_at, spotify_settings
from pipeline.paths import Lake

#: Lookup states that still need work.
BACKLOG_STATES = {"pending", "failed"}
_REVOKED = re.compile(r"(?i)invalid_grant|revoked|unauthori[sz]ed|\b401\b|re-?authori[sz]e")


@dataclass(frozen=True)
class StatusSettings:
    """``status`` section: thresholds of the healthcheck."""

    max_poll_age_hours: float = 2.0
    max_publish_age_hours: float = 36.0
    min_free_disk_mb: int = 500


def status_settings() -> StatusSettings:
    return settings_mod.section("status", StatusSettings)


@dataclass
class AccountStatus:
    name: str
    polling: bool = False
    last_poll_at: str | None = None
    last_success_at: str | None = None
    last_error: str | None = None
    resume_after: str | None = None
    token_expires_at: str | None = None
    token_problem: str | None = None
    plays_today: int = 0
    last_play_at: str | None = None


@dataclass
class Status:
    now: str
    data_dir: str
    accounts: list[AccountStatus] = field(default_factory=list)
    enrichment_backlog: dict[str, int] | str = "unknown"
    last_build: dict[str, Any] | None = None
    last_publish_at: str | None = None
    newest_play_at: str | None = None
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


def _token_expiry(the_lake: Lake, account: str, state: dict[str, Any]) -> dt.datetime | None:
    """When the account's six-month authorisation ends (from its token cache)."""
    if state.get("token_expires_at") is not None:
        return parse_time(state.get("token_expires_at"))
    token = load_token(account)
    return refresh_expires_at(token) if token else None


def plays_by_account(the_lake: Lake, day: dt.date) -> dict[str, int]:
    """Plays of one UTC day per account, from the staged partition and that day's polls."""
    counts: dict[str, int] = {}
    part = the_lake.plays_partition(day)
    if part.exists():
        table = pq.read_table(part, columns=["account"])
        for row in table.group_by("account").aggregate([("account", "count")]).to_pylist():
            counts[row["account"]] = int(row["account_count"])
    return counts


def last_play_by_account(the_lake: Lake, now: dt.datetime, days: int) -> dict[str, dt.datetime]:
    """Newest ``played_at`` per account over the last ``days`` partitions and poll files."""
    newest: dict[str, dt.datetime] = {}
    files: list[Path] = []
    for offset in range(days + 1):
        day = (now - dt.timedelta(days=offset)).date()
        part = the_lake.plays_partition(day)
        if part.exists():
            files.append(part)
        files.extend(the_lake.polls_dir.glob(f"account=*/date={day.isoformat()}/*.parquet"))
    for path in files:
        try:
            table = pq.read_table(path, columns=["account", "played_at"])
        except (OSError, pa.ArrowInvalid, KeyError):
            continue
        if table.num_rows == 0:
            continue
        agg = table.group_by("account").aggregate([("played_at", "max")]).to_pylist()
        for row in agg:
            when = row["played_at_max"]
            if when is not None and (row["account"] not in newest or when > newest[row["account"]]):
                newest[row["account"]] = when
    return newest


def enrichment_backlog(the_lake: Lake) -> dict[str, int] | str:
    """Lookups that failed and wait for a retry, per service; "unknown" before any lookup."""
    from pipeline.enrich.runs import open_state

    services = [
        name
        for name in ("spotify_api", "musicbrainz", "nominatim")
        if the_lake.lookup_state_db(name).exists()
    ]
    if not services:
        return "unknown"
    backlog: dict[str, int] = {}
    for service in services:
        state = open_state(the_lake, service)
        try:
            counts = state.counts()
        finally:
            state.close(commit=False)
        backlog[service] = sum(n for (_, status), n in counts.items() if status in BACKLOG_STATES)
    return backlog


def last_build(the_lake: Lake) -> dict[str, Any] | None:
    """The newest dbt build: when, status, and its test results (pass/fail/warn/error)."""
    from pipeline.tasks.warehouse import latest_marker

    found = latest_marker(the_lake.dbt_runs_dir, "run_results.json")
    candidates: list[tuple[float, dict[str, Any]]] = []
    if found:
        marker_path = the_lake.dbt_run_marker(found[0])
        candidates.append((marker_path.stat().st_mtime, {"marker": found[1], "ok": True}))
    # A failed build leaves no marker; DbtBuild keeps its results in state/ instead.
    failed = the_lake.failed_build_record
    data = read_json(failed)
    if data is not None:
        candidates.append((failed.stat().st_mtime, {"marker": data, "ok": None}))
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


def collect(the_lake: Lake, now: dt.datetime | None = None) -> Status:
    """Everything ``status`` shows, with the problems that make it unhealthy."""
    now = now or dt.datetime.now(dt.UTC)
    settings = settings_mod.get_settings()
    cfg = status_settings()
    status = Status(now=_iso(now) or "", data_dir=str(the_lake.root))
    today = plays_by_account(the_lake, now.date())
    last_plays = last_play_by_account(the_lake, now, 14)
    # The same window the poller warns in (spotify.refresh_warning_days).
    warn_days = spotify_settings().refresh_warning_days
    for account in settings.accounts:
        acc = AccountStatus(name=account.name, plays_today=today.get(account.name, 0))
        acc.last_play_at = _iso(last_plays.get(account.name))
        state = read_json(the_lake.spotify_state(account.name))
        if state is not None:
            acc.polling = True
            acc.last_poll_at = _iso(parse_time(state.get("last_poll_at")))
            success = parse_time(state.get("last_success_at"))
            acc.last_success_at = _iso(success)
            acc.last_error = state.get("last_error") or None
            acc.resume_after = _iso(parse_time(state.get("resume_after")))
            expiry = _token_expiry(the_lake, account.name, state)
            acc.token_expires_at = _iso(expiry)
            if acc.last_error and _REVOKED.search(str(acc.last_error)):
                acc.token_problem = "revoked or refused: run the Spotify authorisation again"
            elif expiry and expiry <= now:
                acc.token_problem = "expired: run the Spotify authorisation again"
            elif expiry and expiry - now <= dt.timedelta(days=warn_days):
                acc.token_problem = f"expires {acc.token_expires_at}"
            if acc.token_problem and not acc.token_problem.startswith("expires"):
                status.problems.append(f"{account.name}: Spotify token {acc.token_problem}")
            elif acc.token_problem:
                status.warnings.append(f"{account.name}: Spotify token {acc.token_problem}")
            resume = parse_time(state.get("resume_after"))
            limit = dt.timedelta(hours=cfg.max_poll_age_hours)
            if resume and resume > now:
                status.warnings.append(f"{account.name}: rate limited until {acc.resume_after}")
            elif success is None or now - success > limit:
                since = acc.last_success_at or "never"
                status.problems.append(
                    f"{account.name}: no successful poll for over {cfg.max_poll_age_hours:g} h "
                    f"(last {since})"
                )
        status.accounts.append(acc)
    status.enrichment_backlog = enrichment_backlog(the_lake)
    status.last_build = last_build(the_lake)
    if status.last_build and status.last_build["status"] == "failed":
        failing = ", ".join(status.last_build["failing"]) or "see the log"
        status.problems.append(f"last dbt build failed ({failing})")
    from pipeline.tasks.warehouse import latest_marker

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
    status.newest_play_at = _iso(max(last_plays.values())) if last_plays else None
    if the_lake.root.exists():
        status.data_bytes = dir_size(the_lake.root)
        status.free_bytes = shutil.disk_usage(the_lake.root).free
        if status.free_bytes < cfg.min_free_disk_mb * 1024 * 1024:
            status.problems.append(
                f"only {status.free_bytes // 1048576} MB free on the data volume "
                f"(minimum {cfg.min_free_disk_mb} MB)"
            )
        if not os.access(the_lake.root, os.W_OK):
            status.problems.append(f"data folder {the_lake.root} is not writable")
    else:
        status.problems.append(f"data folder {the_lake.root} does not exist")
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
    lines.append("accounts:")
    for acc in status.accounts:
        poll = (
            f"last successful poll {acc.last_success_at or 'never'}"
            if acc.polling
            else "not polling (no Spotify state yet)"
        )
        lines.append(f"  {acc.name}: {poll}; plays today {acc.plays_today}")
        lines.append(f"    last play {acc.last_play_at or '-'}")
        if acc.polling:
            token = acc.token_problem or (
                f"expires {acc.token_expires_at}" if acc.token_expires_at else "ok"
            )
            lines.append(f"    token: {token}")
            if acc.last_error:
                lines.append(f"    last error: {acc.last_error}")
    backlog = status.enrichment_backlog
    if isinstance(backlog, dict):
        text = ", ".join(f"{k} {v}" for k, v in backlog.items()) or "nothing pending"
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
    lines.append(f"newest play: {status.newest_play_at or '-'}")
    lines.append(f"disk: data/ uses {_size(status.data_bytes)}, {_size(status.free_bytes)} free")
    for problem in status.problems:
        lines.append(f"PROBLEM: {problem}")
    for warning in status.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)
