"""``music-tracker cron poll|daily|serve|crontab`` and ``music-tracker scheduler``.

``cron poll`` (every 30 minutes): the poll tasks of every polling account, then
``DailyPipeline(today)`` only when the polls landed new plays or staged inputs are unbuilt (no
credentials or polling off: no dbt at all).
``cron daily`` (once a day): Luigi's ``RangeDaily`` over ``StagePlays`` for the last
``cron.daily_window_days`` days (plus ``StageAllPlays`` for days whose inputs grew), then one
``DailyPipeline(today)``: any day a poll run missed is filled, and dbt runs once.

Each run takes the cron lock (a second run exits 0 at once and says who holds it), gets a run
id stamped on every log line, runs on luigid (falling back to the local scheduler with a
warning when luigid is down), sends notifications, and exits with Luigi's retcode.
``cron serve`` is the pipeline container's command: it runs the jobs on the configured
schedule, each in a fresh subprocess. ``scheduler`` starts luigid with its state, task history
and logs under the data folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import secrets
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import luigi

from pipeline.log import set_run_id
from pipeline.ops.schedule import JOBS, crontab, next_run
from pipeline.paths import lake
from pipeline.settings import (
    CronSettings,
    child_environment,
    cron_settings,
    notification_settings,
    scheduler_settings,
    spotify_settings,
)

if TYPE_CHECKING:
    from pipeline.runner import RunOutcome
    from pipeline.tasks.spotify import PollRecentlyPlayed

logger = logging.getLogger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_run_id(job: str, now: dt.datetime) -> str:
    """Sortable, unique enough for one household: 20260101T120000Z-poll-3fa2."""
    return f"{now:%Y%m%dT%H%M%SZ}-{job}-{secrets.token_hex(2)}"


def polling_enabled() -> bool:
    """Whether ``cron poll`` polls at all (``spotify.enabled`` and an account with ``poll``)."""
    from pipeline.settings import get_settings

    return spotify_settings().enabled and any(a.poll for a in get_settings().accounts)


def poll_tasks(now: dt.datetime) -> list[PollRecentlyPlayed]:
    """The poll of one cycle: every polling account, then the days the polls touched."""
    from pipeline.tasks import PollRecentlyPlayed

    if not polling_enabled():
        return []
    return [PollRecentlyPlayed(slot=now)]


def unbuilt_inputs() -> bool:
    """Whether staged inputs (import units, polls, plays) changed since the last good build.

    An import left unbuilt (killed, or run as a bare Luigi task) is something new even when
    this cycle polled nothing; an empty lake, or one built since its last input, is not.
    """
    from pipeline.io.markers import latest_marker, newest_mtime

    the_lake = lake()
    found = latest_marker(the_lake.dbt_runs_dir, "run_results.json")
    built = the_lake.dbt_run_marker(found[0]).stat().st_mtime_ns if found else -1
    folders = (the_lake.import_units_dir, the_lake.polls_dir, the_lake.plays_dir)
    return any(newest_mtime(folder) > built for folder in folders)


def polled_new_plays(now: dt.datetime) -> int:
    """New plays the cycle's polls landed (0: nothing polled or nothing new)."""
    from pipeline.ingest.poll_state import slot_outcomes
    from pipeline.ingest.slots import slot_of

    outcomes = slot_outcomes(lake(), slot_of(now))
    return sum(int(o.get("plays") or 0) for o in outcomes.values())


def job_phases(job: str, now: dt.datetime) -> list[Sequence[luigi.Task]]:
    """What a cron job runs, as phases run one after the other (empty phases are skipped).

    Why phases: ``DbtBuild(date)`` is complete only while the staged-data fingerprint it built
    from is current, so staging other days in the same Luigi run as a build makes the build
    "incomplete" again before ``PublishReporting`` runs ("Unfulfilled dependency at run
    time"). So every day is staged first, and the warehouse is built once, for today, last.
    """
    from pipeline.tasks import DailyPipeline, RangeDaily, StageAllPlays, StagePlays

    today = now.date()
    if job == "poll":
        # Polls land plays on the day they were played: around midnight that is yesterday.
        polls = poll_tasks(now)
        return [
            polls,
            [StagePlays(date=today - dt.timedelta(days=1))],
            [DailyPipeline(date=today)],
            # Last: an account that could not poll is a FAILED task (exit 30) after the others
            # are built, never a reason to leave their plays out of the warehouse.
            [check for poll in polls for check in poll.checks()],
        ]
    if job == "daily":
        window = cron_settings().daily_window_days
        fill = RangeDaily(
            of=StagePlays,
            start=today - dt.timedelta(days=window - 1),
            stop=today + dt.timedelta(days=1),
            days_back=window + 1,
        )
        return [[fill, StageAllPlays()], [DailyPipeline(date=today)]]
    raise ValueError(f"unknown cron job {job!r}")


def run_phases(phases: list[Sequence[luigi.Task]], central: bool, workers: int) -> RunOutcome:
    """Run each non-empty phase; stop at the first that fails. Returns the last outcome."""
    from pipeline.runner import RunOutcome, run_luigi

    outcome = RunOutcome(0, "none")
    failures: list[tuple[str, str]] = []
    for tasks in phases:
        if not tasks:
            continue
        outcome = run_luigi(tasks, central=central, workers=workers)
        failures += outcome.failures
        if outcome.code:
            break
    outcome.failures = failures
    return outcome


def run_job(job: str, now: dt.datetime | None = None) -> int:
    """One cron run of ``job``; returns the process exit code."""
    from pipeline.ops import health, notify
    from pipeline.ops.lock import LAKE_LOCK, LockHeld, exclusive

    now = now or _now()
    run_id = new_run_id(job, now)
    set_run_id(run_id)
    the_lake = lake()
    holder = {"job": job, "run_id": run_id, "pid": os.getpid(), "since": now.isoformat()}
    try:
        with exclusive(the_lake.lock_file(LAKE_LOCK), holder):
            logger.info("cron %s started", job, extra={"job": job})
            started = time.monotonic()
            from pipeline.tasks.warehouse import whole_suite

            central = cron_settings().central_scheduler
            workers = scheduler_settings().workers
            phases = job_phases(job, now)
            if job == "poll":
                # Nothing polled (no credentials, polling off) or nothing new: no staging and
                # no dbt; `cron daily` still builds once a day.
                outcome = run_phases(phases[:1], central=central, workers=workers)
                if outcome.code:
                    pass  # the poll failed: reported below, nothing built
                elif polled_new_plays(now) == 0 and not unbuilt_inputs():
                    logger.info("cron poll: no new plays polled, nothing new: nothing to build")
                    print(f"cron poll [{run_id}]: no new plays polled; nothing to build")
                else:
                    first = outcome.failures
                    outcome = run_phases(phases[1:], central=central, workers=workers)
                    outcome.failures = first + outcome.failures
            else:
                with whole_suite(job == "daily"):  # once a day: every model, period and test
                    outcome = run_phases(phases, central=central, workers=workers)
            cfg = notification_settings()
            since = notify.last_checked(the_lake)
            status = health.collect_accounts(the_lake, _now())  # what the events read
            events = notify.failure_events(outcome.failures)
            events += notify.health_events(status, _now(), cfg)
            events += notify.gap_events(the_lake, since)
            sent = notify.dispatch(the_lake, events, run_id)
            seconds = round(time.monotonic() - started, 1)
            logger.info(
                "cron %s finished: exit %d on the %s scheduler, %d notification(s) sent",
                job,
                outcome.code,
                outcome.scheduler,
                len(sent),
                extra={"job": job, "seconds": seconds},
            )
            print(
                f"cron {job} [{run_id}]: exit {outcome.code} ({outcome.scheduler} scheduler, "
                f"{seconds} s, {len(sent)} notification(s))"
            )
            return outcome.code
    except LockHeld as held:
        info = held.holder
        message = (
            f"cron {job} [{run_id}]: another run is still going "
            f"({info.get('job', '?')} run {info.get('run_id', '?')}, pid {info.get('pid', '?')}, "
            f"since {info.get('since', '?')}); skipping this one"
        )
        logger.warning(message, extra={"job": job})
        print(message)
        return 0
    finally:
        set_run_id(None)


def serve(
    max_runs: int | None = None,
    clock: Callable[[], dt.datetime] = _now,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run the cron jobs on schedule forever (or ``max_runs`` jobs), each in a subprocess."""
    cfg = cron_settings()
    runs = 0
    last = clock()
    pending: list[str] = ["poll"] if cfg.run_poll_at_start else []
    logger.info(
        "cron serve: poll every %d min, daily at %s UTC", cfg.poll_every_minutes, cfg.daily_at
    )
    while max_runs is None or runs < max_runs:
        if not pending:
            due = {job: next_run(job, last, cfg) for job in JOBS}
            when = min(due.values())
            wait = (when - clock()).total_seconds()
            if wait > 0:
                sleep(wait)
            last = when
            pending = [job for job in JOBS if due[job] == when]
        job = pending.pop(0)
        cmd = [sys.executable, "-m", "pipeline.cli", "cron", job]
        code = subprocess.run(cmd, check=False, env=child_environment()).returncode
        if code:
            logger.error("cron %s exited %d", job, code, extra={"job": job})
        reap_orphans()
        runs += 1
    return 0


def reap_orphans() -> int:
    """Collect the exited processes the kernel handed to this one; how many.

    ``cron serve`` is PID 1 of the pipeline container, so every process orphaned inside it
    becomes its child, such as the helper each dbt run leaves (multiprocessing's resource
    tracker outlives dbt by a moment). Nobody else waits for them: without this each build
    left a zombie, 48 a day, until the container ran out of process IDs. Called between jobs,
    when no child of its own is running, so no exit status anyone waits for is taken.
    """
    reaped = 0
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:  # no children at all
            return reaped
        if pid == 0:  # children left, none exited
            return reaped
        reaped += 1


def start_luigid(dry_run: bool = False) -> int:
    """Exec luigid with its state pickle, task history and --logdir under the data folder."""
    from pipeline.runner import LUIGI_CFG

    cfg = scheduler_settings()
    the_lake = lake()
    state_dir = the_lake.luigi_dir
    logdir = the_lake.logs_dir / "luigid"
    state_dir.mkdir(parents=True, exist_ok=True)
    logdir.mkdir(parents=True, exist_ok=True)  # luigid dies if --logdir does not exist
    env = child_environment(LUIGI_STATE_DIR=str(state_dir.resolve()))
    env.setdefault("LUIGI_CONFIG_PATH", str(LUIGI_CFG))
    luigid = os.path.join(os.path.dirname(sys.executable), "luigid")
    cmd = [
        luigid if os.path.exists(luigid) else "luigid",
        "--address",
        cfg.bind_address,
        "--port",
        str(cfg.port),
        "--state-path",
        str((state_dir / "luigi-state.pickle").resolve()),
        "--logdir",
        str(logdir.resolve()),
    ]
    print(" ".join(cmd), flush=True)
    if dry_run:
        return 0
    os.execvpe(cmd[0], cmd, env)
    return 0  # not reached


def program_command() -> list[str]:
    """The absolute command that runs this ``music-tracker`` (cron's PATH does not find it).

    The console script beside this interpreter when installed (``.venv/bin/music-tracker``),
    else this interpreter with ``-m pipeline.cli``.
    """
    script = Path(sys.executable).parent / "music-tracker"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "pipeline.cli"]


def _cron_quote(word: str) -> str:
    """Quote for sh; ``%`` ends a crontab command (it means newline), so it is escaped."""
    return shlex.quote(word).replace("%", "\\%")


def crontab_text(cfg: CronSettings) -> str:
    """Crontab lines that work from cron's bare environment (PATH=/usr/bin:/bin, no venv).

    Each line names the program by its absolute path, passes the data folder, runs in the
    project folder (``config/`` is found from there) and appends its output to a log file
    under the lake (``logs/cron.log``): what cron mails nobody is then still readable.
    """
    from pipeline.settings import PROJECT_ROOT, get_settings

    data_dir = get_settings().paths.data_dir.resolve()
    log = data_dir / "logs" / "cron.log"
    prog = " ".join(_cron_quote(w) for w in program_command())
    head = f"cd {_cron_quote(str(PROJECT_ROOT))} && {prog} --data-dir {_cron_quote(str(data_dir))}"
    tail = f">> {_cron_quote(str(log))} 2>&1"
    env = os.environ.get("MUSIC_TRACKER_ENV")
    lines = []
    for line in crontab(cfg, command=head).splitlines():
        if line.startswith("#") or not line.strip():
            lines.append(line)
        else:
            lines.append(f"{line} {tail}")
    if env:
        lines.insert(1, f"MUSIC_TRACKER_ENV={env}")
    lines.insert(
        1,
        "# Secrets (SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET, webhook token) are not in cron's "
        "environment: add them as VAR=value lines here (crontab is private to your user).",
    )
    return "\n".join(lines) + "\n"


def cmd_cron(args: argparse.Namespace) -> int:
    from pipeline.settings import SettingsError

    try:
        cron_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.job in JOBS:
        return run_job(args.job)
    if args.job == "serve":
        return serve(args.max_runs)
    print(crontab_text(cron_settings()), end="")
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    return start_luigid(args.dry_run)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cron = sub.add_parser("cron", help="scheduled jobs: poll, daily, serve (the loop), crontab")
    cron.add_argument("job", choices=[*JOBS, "serve", "crontab"])
    cron.add_argument(
        "--max-runs", type=int, default=None, help="serve: stop after this many job runs"
    )
    cron.set_defaults(func=cmd_cron)
    sched = sub.add_parser("scheduler", help="start luigid (state and history under data/)")
    sched.add_argument("--dry-run", action="store_true", help="print the command, do not start")
    sched.set_defaults(func=cmd_scheduler)
