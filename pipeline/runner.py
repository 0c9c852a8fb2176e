"""Run Luigi tasks: one place that decides the scheduler and the exit code.

Every command that runs tasks (``demo``, ``import``, ``build``, ``rebuild``, ``rerun`` and the
cron jobs) asks for the central scheduler (``luigid``, so the visualiser shows the run and its
progress and the task history records it); when luigid does not answer within
``scheduler.connect_timeout_seconds`` it falls back to the local scheduler instead of spending
minutes in Luigi's RPC retries, because a missed poll loses plays (recently-played only keeps
the last 50). Interactive commands say which one in one line on stderr and, at a terminal, show
one progress bar fed by the tasks' progress (``pipeline.progress``).

The exit code follows the ``[retcode]`` block of ``luigi.cfg`` exactly as the ``luigi`` binary
computes it (``luigi.retcodes.run_with_retcodes``), so cron and Docker see the same numbers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import luigi
import luigi.configuration
import luigi.execution_summary
import luigi.interface
import luigi.retcodes
import luigi.worker
from luigi.execution_summary import LuigiStatusCode

from pipeline.io.pass_cache import scheduling_pass
from pipeline.settings import PROJECT_ROOT, scheduler_settings
from pipeline.warehouse import warm

logger = logging.getLogger(__name__)

LUIGI_CFG = PROJECT_ROOT / "luigi.cfg"

#: Fallback exit codes (the documented [retcode] block) if luigi.cfg could not be read.
RETCODES = {
    LuigiStatusCode.SUCCESS: 0,
    LuigiStatusCode.SUCCESS_WITH_RETRY: 0,
    LuigiStatusCode.FAILED: 30,
    LuigiStatusCode.FAILED_AND_SCHEDULING_FAILED: 30,
    LuigiStatusCode.SCHEDULING_FAILED: 35,
    LuigiStatusCode.NOT_RUN: 25,
    LuigiStatusCode.MISSING_EXT: 20,
}


@dataclass
class RunOutcome:
    """What a Luigi run did: exit code, scheduler used, and the tasks that failed (and why)."""

    code: int
    scheduler: str
    failures: list[tuple[str, str]] = field(default_factory=list)
    summary: str = ""


def failures_of(result: luigi.execution_summary.LuigiRunResult) -> list[tuple[str, str]]:
    """(task id, last line of its error) for each failed task, as the scheduler recorded it.

    Asked from the scheduler, which holds the error whether the task ran in this process or
    in a worker child (``[worker] force_multiprocessing``).
    """
    from pipeline.log import redact

    sets = luigi.execution_summary._summary_dict(result.worker)
    found: list[tuple[str, str]] = []
    for task in sorted(sets["failed"], key=lambda t: t.task_id):
        try:
            error = result.worker._scheduler.fetch_error(task.task_id).get("error") or ""
        except Exception:  # noqa: BLE001 - a summary must not fail the run
            error = ""
        error = str(error).strip()
        if error.startswith('"'):
            # The worker hands the scheduler its explanation JSON-encoded.
            with contextlib.suppress(ValueError):
                error = str(json.loads(error))
        lines = [line for line in error.strip().splitlines() if line.strip()]
        found.append((task.task_id, redact(lines[-1] if lines else "failed")[:500]))
    return found


def _load_luigi_cfg() -> None:
    """Make sure the project's luigi.cfg is read whatever the working directory."""
    config = luigi.configuration.get_config()
    if Path(LUIGI_CFG).exists() and str(LUIGI_CFG) not in getattr(config, "_config_paths", []):
        luigi.configuration.add_config_path(str(LUIGI_CFG))


def luigid_reachable(url: str, timeout: float) -> bool:
    """Whether something listens at luigid's ``url`` (a TCP connect, so no HTTP client is used).

    A socket, not an HTTP request: the check runs before every command's Luigi run, and an HTTP
    client may be replaced (a test's cassette, a proxy setting) where luigid itself is not.
    """
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


#: Set by a parent that announced the scheduler for its child (``pipeline.ops.stage_child``).
ANNOUNCED_ENV = "MUSIC_TRACKER_SCHEDULER_ANNOUNCED"

#: Scheduler URLs already announced by this process (an import is several Luigi runs: one line).
_announced: set[tuple[str, bool]] = set()


def announce(url: str, central: bool) -> None:
    """Say once per process which scheduler runs the tasks, and where the visualiser is."""
    if (url, central) in _announced or os.environ.get(ANNOUNCED_ENV) == url:
        return
    _announced.add((url, central))
    if central:
        line = f"Luigi: running on luigid at {url} (visualiser: {url})"
    else:
        line = (
            f"Luigi: luigid not reachable at {url}; using the local scheduler "
            "(this run is not in the visualiser)"
        )
    print(line, file=sys.stderr, flush=True)


def retcode_of(result: luigi.execution_summary.LuigiRunResult) -> int:
    """The exit code ``luigi`` would give for this run, from luigi.cfg's [retcode] block."""
    codes = luigi.retcodes.retcode()
    values = (
        codes.missing_data,
        codes.task_failed,
        codes.already_running,
        codes.scheduling_error,
        codes.not_run,
    )
    if not any(values):  # luigi.cfg not found: use the documented block
        return RETCODES.get(result.status, 40)
    sets = luigi.execution_summary._summary_dict(result.worker)
    root = luigi.execution_summary._root_task(result.worker)
    conditions = (
        (codes.missing_data, bool(sets["still_pending_ext"])),
        (codes.task_failed, bool(sets["failed"])),
        (codes.already_running, bool(sets["run_by_other_worker"])),
        (codes.scheduling_error, bool(sets["scheduling_error"])),
        (codes.not_run, bool(sets["not_run"])),
    )
    code = max(value if cond else 0 for value, cond in conditions)
    if code == 0 and root not in sets["completed"] and root not in sets["already_done"]:
        return codes.not_run
    return code


class _IndexedWorker(luigi.worker.Worker):
    """A Luigi worker whose scheduling of each root task is one pass of ``pass_cache``.

    ``add()`` walks the task graph asking every ``complete()`` before anything runs; the lake's
    trees are walked and its DuckDB files opened once for all of them instead of once per
    question. Luigi's re-check of one dependency before a task runs (or of a dynamic one) is a
    pass of its own: ``PublishReporting``'s check of ``DbtBuild`` asks the staging checks and
    the build's fingerprint of the same tree, and walked it up to four times (~15,000 files at
    1M plays). Running (``run()``) is outside any pass and sees every file as it is.
    """

    def add(self, task: luigi.Task, multiprocess: bool = False, processes: int = 0) -> bool:
        in_process = self.worker_processes <= 1 and not self._config.force_multiprocessing
        with scheduling_pass(), warm.starting_ahead(in_process):
            return bool(super().add(task, multiprocess, processes))

    def _create_task_process(self, task: luigi.Task) -> luigi.worker.TaskProcess:
        process = super()._create_task_process(task)
        check = process.check_complete

        def check_in_pass(dependency: luigi.Task) -> bool:
            with scheduling_pass():
                return bool(check(dependency))

        process.check_complete = check_in_pass
        return process


class _Factory(luigi.interface._WorkerSchedulerFactory):
    """Luigi's default scheduler and worker, but the worker is ``_IndexedWorker``."""

    def create_worker(
        self, scheduler: object, worker_processes: int, assistant: bool = False
    ) -> luigi.worker.Worker:
        return _IndexedWorker(
            scheduler=scheduler, worker_processes=worker_processes, assistant=assistant
        )


def run_luigi(
    tasks: Sequence[luigi.Task], central: bool = False, workers: int = 1, interactive: bool = False
) -> RunOutcome:
    """Build ``tasks`` on luigid (``central``, falling back to local) or the local scheduler.

    ``interactive`` (a command typed at a shell): the scheduler is announced in one line
    instead of a logged warning, and a terminal gets the progress bar.
    """
    from pipeline import progress

    _load_luigi_cfg()
    params: dict[str, object] = {"local_scheduler": True}
    scheduler = "local"
    if central:
        cfg = scheduler_settings()
        reachable = luigid_reachable(cfg.url, cfg.connect_timeout_seconds)
        if reachable:
            params = {"local_scheduler": False, "scheduler_url": cfg.url}
            scheduler = "central"
        if interactive:
            announce(cfg.url, reachable)
        elif not reachable:
            logger.warning(
                "luigid at %s is not reachable; falling back to the local scheduler "
                "(this run will not show in the visualiser or the task history)",
                cfg.url,
            )
    try:
        with progress.bar(enabled=interactive):
            result = luigi.build(
                tasks,
                workers=workers,
                detailed_summary=True,
                log_level="WARNING",
                worker_scheduler_factory=_Factory(),
                **params,
            )
    except Exception:
        logger.exception("luigi could not run the tasks")
        return RunOutcome(luigi.retcodes.retcode().unhandled_exception or 40, scheduler)
    finally:
        warm.discard()  # a dbt started ahead for a build that never came (an input failed)
    others = luigi.execution_summary._summary_dict(result.worker)["run_by_other_worker"]
    if interactive and scheduler == "central" and others:
        # The command holds its lake's writer lock, so another worker running the same task
        # (same name and parameters: paths are not parameters) works on another lake, e.g.
        # the cron build of the real lake during `music-tracker demo`. Run ours here.
        names = ", ".join(sorted(str(t) for t in others))
        print(
            f"Luigi: luigid says {names} is running for another lake; "
            "running this one on the local scheduler",
            file=sys.stderr,
            flush=True,
        )
        return run_luigi(tasks, central=False, workers=workers, interactive=True)
    code = retcode_of(result)
    outcome = RunOutcome(code, scheduler, failures_of(result), result.summary_text)
    if code:
        logger.error("luigi run finished with %s (exit %d)", result.status.name, code)
        logger.info("luigi summary:\n%s", result.summary_text)
    return outcome


def run_tasks(tasks: Sequence[luigi.Task], local_scheduler: bool = False, workers: int = 1) -> int:
    """Build ``tasks`` for an interactive command; return Luigi's retcode (0 when all done).

    On luigid when it answers (``local_scheduler=True`` forces the local one, for tests and
    one-off debugging), announced in one line.
    """
    outcome = run_luigi(tasks, central=not local_scheduler, workers=workers, interactive=True)
    return outcome.code
