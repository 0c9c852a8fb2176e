"""Run Luigi tasks: one place that decides the scheduler and the exit code.

Interactive commands (``demo``, ``import``, ``build``) use Luigi's local scheduler. The cron
wrapper asks for the central one (``luigid``, so the visualiser shows progress and the task
history records the run); when luigid does not answer within ``scheduler.connect_timeout_seconds``
it falls back to the local scheduler with a warning instead of spending minutes in Luigi's RPC
retries, because a missed poll loses plays (recently-played only keeps the last 50).

The exit code follows the ``[retcode]`` block of ``luigi.cfg`` exactly as the ``luigi`` binary
computes it (``luigi.retcodes.run_with_retcodes``), so cron and Docker see the same numbers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import luigi
import luigi.configuration
import luigi.execution_summary
import luigi.retcodes
import requests
from luigi.execution_summary import LuigiStatusCode

from pipeline import settings as settings_mod

logger = logging.getLogger(__name__)

LUIGI_CFG = settings_mod.PROJECT_ROOT / "luigi.cfg"

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


@dataclass(frozen=True)
class SchedulerSettings:
    """``scheduler`` section: where luigid listens and how workers reach it."""

    url: str = "http://localhost:8082/"
    bind_address: str = "127.0.0.1"
    port: int = 8082
    connect_timeout_seconds: float = 3.0
    workers: int = 1


def scheduler_settings() -> SchedulerSettings:
    return settings_mod.section("scheduler", SchedulerSettings)


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
        lines = [line for line in str(error).strip().splitlines() if line.strip()]
        found.append((task.task_id, redact(lines[-1] if lines else "failed")[:500]))
    return found


def _load_luigi_cfg() -> None:
    """Make sure the project's luigi.cfg is read whatever the working directory."""
    config = luigi.configuration.get_config()
    if Path(LUIGI_CFG).exists() and str(LUIGI_CFG) not in getattr(config, "_config_paths", []):
        luigi.configuration.add_config_path(str(LUIGI_CFG))


def luigid_reachable(url: str, timeout: float) -> bool:
    """Whether a luigid answers at ``url`` (any HTTP answer counts)."""
    try:
        requests.get(url.rstrip("/") + "/api/task_list?data={}", timeout=timeout)
    except requests.RequestException:
        return False
    return True


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


def run_luigi(tasks: list[luigi.Task], central: bool = False, workers: int = 1) -> RunOutcome:
    """Build ``tasks`` on luigid (``central``, falling back to local) or the local scheduler."""
    _load_luigi_cfg()
    params: dict[str, object] = {"local_scheduler": True}
    scheduler = "local"
    if central:
        cfg = scheduler_settings()
        if luigid_reachable(cfg.url, cfg.connect_timeout_seconds):
            params = {"local_scheduler": False, "scheduler_url": cfg.url}
            scheduler = "central"
        else:
            logger.warning(
                "luigid at %s is not reachable; falling back to the local scheduler "
                "(this run will not show in the visualiser or the task history)",
                cfg.url,
            )
    try:
        result = luigi.build(
            tasks,
            workers=workers,
            detailed_summary=True,
            log_level="WARNING",
            **params,
        )
    except Exception:
        logger.exception("luigi could not run the tasks")
        return RunOutcome(luigi.retcodes.retcode().unhandled_exception or 40, scheduler)
    code = retcode_of(result)
    outcome = RunOutcome(code, scheduler, failures_of(result), result.summary_text)
    if code:
        logger.error("luigi run finished with %s (exit %d)", result.status.name, code)
        logger.info("luigi summary:\n%s", result.summary_text)
    return outcome


def run_tasks(tasks: list[luigi.Task], local_scheduler: bool = True, workers: int = 1) -> int:
    """Build ``tasks``; return Luigi's retcode (0 when everything is done)."""
    return run_luigi(tasks, central=not local_scheduler, workers=workers).code
