"""Run Luigi tasks from the command line: one place that decides scheduler and exit code."""

from __future__ import annotations

import logging

import luigi
from luigi.execution_summary import LuigiStatusCode

logger = logging.getLogger(__name__)

#: Exit codes, matching the [retcode] block of luigi.cfg.
RETCODES = {
    LuigiStatusCode.SUCCESS: 0,
    LuigiStatusCode.SUCCESS_WITH_RETRY: 0,
    LuigiStatusCode.FAILED: 30,
    LuigiStatusCode.FAILED_AND_SCHEDULING_FAILED: 30,
    LuigiStatusCode.SCHEDULING_FAILED: 35,
    LuigiStatusCode.NOT_RUN: 25,
    LuigiStatusCode.MISSING_EXT: 20,
}


def run_tasks(tasks: list[luigi.Task], local_scheduler: bool = True, workers: int = 1) -> int:
    """Build ``tasks``; return Luigi's retcode (0 when everything is done)."""
    result = luigi.build(
        tasks,
        local_scheduler=local_scheduler,
        workers=workers,
        detailed_summary=True,
        log_level="WARNING",
    )
    code = RETCODES.get(result.status, 40)
    if code:
        logger.error("luigi run finished with %s:\n%s", result.status.name, result.summary_text)
    return code
