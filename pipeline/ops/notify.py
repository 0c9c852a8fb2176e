"""Notifications: what is worth telling the household, and sending it once (not every run).

Events: a task failed; a Spotify token is revoked, refused or about to expire; no new plays for
``no_plays_hours`` while the account is active (it had plays within ``active_window_days``);
a gap detected by polling (``staged/gaps``). Each event has a key; an event already sent within
``repeat_hours`` is not sent again (state in ``state/notifications.json``), so a broken token
pages once a day, not every 30 minutes.

Channels: the configured webhook (ntfy, Gotify, Slack, Discord, plain JSON) and, when
``email: true``, Luigi's own e-mail settings (``[email]``/``[smtp]`` in luigi.cfg).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass
from typing import Any

from pipeline.io.atomic import write_json_atomic
from pipeline.ops.health import Status, parse_time, read_json
from pipeline.paths import Lake
from pipeline.settings import NotificationSettings, notification_settings, secret

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    key: str
    kind: str  # task_failed | token | no_plays | gap
    title: str
    message: str
    severity: str = "error"

    def payload(self, run_id: str | None, now: dt.datetime) -> dict[str, Any]:
        return {**asdict(self), "run_id": run_id, "at": now.isoformat(timespec="seconds")}


def failure_events(failures: list[tuple[str, str]]) -> list[Event]:
    return [
        Event(
            key=f"task_failed:{task_id}",
            kind="task_failed",
            title=f"Music Tracker: {task_id.split('_')[0]} failed",
            message=f"{task_id}\n{error}",
        )
        for task_id, error in failures
    ]


def health_events(status: Status, now: dt.datetime, cfg: NotificationSettings) -> list[Event]:
    """Token, no-new-plays events from the status the cron run just collected."""
    events: list[Event] = []
    for acc in status.accounts:
        if acc.token_problem:
            events.append(
                Event(
                    key=f"token:{acc.name}:{acc.token_problem.split(':')[0]}",
                    kind="token",
                    title=f"Music Tracker: Spotify token of {acc.name} {acc.token_problem}",
                    message=(
                        f"Account {acc.name}: the Spotify token {acc.token_problem}. Polling "
                        "stops until you authorise again (see README, Spotify section)."
                    ),
                    severity="warning" if acc.token_problem.startswith("expires") else "error",
                )
            )
        last = parse_time(acc.last_play_at)
        if acc.polling and last is not None:
            quiet = now - last
            if (
                dt.timedelta(hours=cfg.no_plays_hours)
                <= quiet
                <= dt.timedelta(days=cfg.active_window_days)
            ):
                events.append(
                    Event(
                        key=f"no_plays:{acc.name}:{last.isoformat()}",
                        kind="no_plays",
                        title=f"Music Tracker: no new plays for {acc.name}",
                        message=(
                            f"No new plays for {acc.name} for {quiet.total_seconds() / 3600:.0f} "
                            f"hours (last {acc.last_play_at}). Is polling still working?"
                        ),
                        severity="warning",
                    )
                )
    return events


#: Slack for file times against ``since`` (kept to the second; some file systems keep file
#: times to two): a gap file's time is never earlier than the detection it records.
GAP_FILE_SLACK_S = 2


def gap_events(the_lake: Lake, since: dt.datetime) -> list[Event]:
    """Gaps polling detected after ``since`` (from the staged gaps dataset).

    Only files written since then are read: a gap is written after it is detected, so a file
    older than ``since`` holds no new one, and a cron run with nothing new reads none (and
    loads no Arrow)."""
    events: list[Event] = []
    oldest = since.timestamp() - GAP_FILE_SLACK_S
    for path in sorted(the_lake.gaps_dir.glob("date=*/*.parquet")):
        try:
            if path.stat().st_mtime < oldest:
                continue
            import pyarrow.parquet as pq

            rows = pq.read_table(path).to_pylist()
        except OSError:
            continue
        for row in rows:
            detected = row.get("detected_at")
            if detected is None or detected <= since:
                continue
            start, end = row["gap_start"], row["gap_end"]
            events.append(
                Event(
                    key=f"gap:{row['account']}:{start.isoformat()}",
                    kind="gap",
                    title=f"Music Tracker: plays of {row['account']} may be missing",
                    message=(
                        f"Polling found a gap for {row['account']} between "
                        f"{start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC (more than 50 "
                        "plays between two polls). Import your Spotify export to fill it."
                    ),
                    severity="warning",
                )
            )
    return events


def _send_email(event: Event) -> None:
    import luigi.notifications

    luigi.notifications.send_error_email(event.title, event.message)


def dispatch(
    the_lake: Lake, events: list[Event], run_id: str | None, now: dt.datetime | None = None
) -> list[Event]:
    """Send the events not sent within ``repeat_hours``; return those sent."""
    now = now or dt.datetime.now(dt.UTC)
    cfg = notification_settings()
    state = read_json(the_lake.notifications_state) or {}
    sent_at: dict[str, str] = dict(state.get("sent", {}))
    repeat = dt.timedelta(hours=cfg.repeat_hours)
    sent: list[Event] = []
    for event in events:
        last = parse_time(sent_at.get(event.key))
        if last is not None and now - last < repeat:
            continue
        delivered = False
        if cfg.webhook_kind:
            from pipeline.clients.http import HttpError
            from pipeline.clients.webhook import send

            token = secret(cfg.webhook_token_env) if cfg.webhook_token_env else None
            try:
                send(
                    cfg.webhook_kind,
                    cfg.webhook_url,
                    event.payload(run_id, now),
                    token,
                    cfg.timeout_seconds,
                )
                delivered = True
            except HttpError as exc:
                logger.error("notification %s not delivered: %s", event.key, exc)
        if cfg.email:
            try:
                _send_email(event)
                delivered = True
            except Exception as exc:  # noqa: BLE001 - mail trouble must not fail the run
                logger.error("notification e-mail %s not sent: %s", event.key, exc)
        logger.warning("notify %s: %s", event.kind, event.title, extra={"event": event.kind})
        if delivered or not (cfg.webhook_kind or cfg.email):
            sent_at[event.key] = now.isoformat(timespec="seconds")
            sent.append(event)
    cutoff = now - dt.timedelta(days=30)
    sent_at = {k: v for k, v in sent_at.items() if (parse_time(v) or now) > cutoff}
    last_run = state.get("last_checked_at")
    write_json_atomic(
        the_lake.notifications_state,
        {
            "sent": sent_at,
            "last_checked_at": now.isoformat(timespec="seconds"),
            "previous_checked_at": last_run,
        },
    )
    return sent


def last_checked(the_lake: Lake) -> dt.datetime:
    """When the previous cron run looked for events (gaps newer than this are new)."""
    state = read_json(the_lake.notifications_state) or {}
    return parse_time(state.get("last_checked_at")) or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
