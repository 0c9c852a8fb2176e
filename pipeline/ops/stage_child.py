"""Run the ingest half of a command (import, staging) in a child interpreter that then exits.

Why: in the pipeline's 400 MB container, the process that parsed and staged a million plays
keeps ~95 MB it cannot hand back (Polars' and Arrow's allocators, a fragmented heap), and dbt
then needs ~290 MB beside it: measured, the pair was OOM-killed at 1M plays. When the import
runs in a child that exits before dbt starts, the command's own process stays at ~50 MB during
the build (measured: peak 349 MB of anonymous memory in a 400 MB cgroup at 1M, 0 OOM kills).
So two large interpreters never coexist: the ingest child is gone before dbt exists.

The child is ``music-tracker _stage ...`` in a new session, tracked like dbt's process group
(``pipeline.warehouse.dbt_process``): a signal to the command stops it, and it dies with its
parent (``PR_SET_PDEATHSIG``), so no child outlives the lake lock its parent holds.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

logger = logging.getLogger(__name__)


def stage_command(
    files: list[Path] | None,
    account: str | None,
    rebuild: bool,
    local_scheduler: bool,
    facts: Path | None = None,
) -> list[str]:
    """The child's command line (settings reach it through ``child_environment()``)."""
    cmd = [sys.executable, "-m", "pipeline.cli", "_stage"]
    if rebuild:
        cmd.append("--rebuild")
    if account:
        cmd += ["--account", account]
    if not local_scheduler:
        cmd.append("--central")
    if facts is not None:
        cmd += ["--facts", str(facts)]
    cmd += [str(f) for f in files or []]
    return cmd


def run_stage_child(
    files: list[Path] | None = None,
    account: str | None = None,
    rebuild: bool = False,
    local_scheduler: bool = False,
    facts: Path | None = None,
) -> int:
    """Run the ingest half in a child interpreter; its exit code (OOM kills said as such)."""
    from pipeline.warehouse import dbt_process

    cmd = stage_command(files, account, rebuild, local_scheduler, facts)
    from pipeline.settings import child_environment

    env = child_environment()  # the parent's settings, --data-dir included
    if not local_scheduler:  # one line for the whole command, said before the child starts
        from pipeline.runner import ANNOUNCED_ENV, announce, luigid_reachable
        from pipeline.settings import scheduler_settings

        cfg = scheduler_settings()
        announce(cfg.url, luigid_reachable(cfg.url, cfg.connect_timeout_seconds))
        env[ANNOUNCED_ENV] = cfg.url
    kills_before = dbt_process.oom_kill_count()
    proc = subprocess.Popen(
        cmd,
        env=env,
        start_new_session=True,
        preexec_fn=dbt_process.die_with_parent(),  # noqa: PLW1509 - set before exec, on purpose
    )
    with dbt_process.tracked(proc):
        code = proc.wait()
    if code < 0 and dbt_process.killed_for_memory(kills_before):
        message = (
            "the import ran out of memory (the kernel killed it): raise the container's "
            "mem_limit, or import the export's files in smaller batches"
        )
        logger.error(message)
        print(f"error: {message}", file=sys.stderr)
        return 30
    if code < 0:
        logger.error("the import's child process died of signal %d", -code)
        return 30
    return code
