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
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

#: The child's environment names the pipe on which it says its plays are staged.
STAGED_FD_ENV = "MUSIC_TRACKER_STAGED_FD"


def say_staged() -> None:
    """In the child: the plays are staged and a build will follow (``run_stage_child``'s
    ``on_staged``). What is left here, the day's enrichment, takes ~1.5 s at 1M plays: long
    enough for the parent to start dbt's interpreter and parse (~2 s) beside it."""
    fd = os.environ.pop(STAGED_FD_ENV, None)
    if fd is None:
        return
    try:
        os.write(int(fd), b"s")
        os.close(int(fd))
    except (OSError, ValueError):  # the parent is gone or never asked: nothing to say
        pass


def _hear_staged(read_fd: int, on_staged: Callable[[], None]) -> None:
    """In the parent: wait for the child's word (or its end) and act on it once.

    On the main thread, not a waiting thread: what ``on_staged`` starts dies with the thread
    that started it (``PR_SET_PDEATHSIG`` follows the thread), and dbt started from a thread
    that then ended was killed at once (measured: started again 2 s later by the build)."""
    try:
        word = os.read(read_fd, 1)
    finally:
        os.close(read_fd)
    if word != b"s":
        return
    try:
        on_staged()
    except Exception:  # noqa: BLE001 - only a head start: the build starts dbt itself
        logger.warning("could not start dbt ahead of the build", exc_info=True)


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
    on_staged: Callable[[], None] = lambda: None,
) -> int:
    """Run the ingest half in a child interpreter; its exit code (OOM kills said as such).

    ``on_staged`` runs in this process, on the thread waiting for the child, when the child
    says its plays are staged and a build will follow (``say_staged``): the import starts dbt
    there, so dbt's imports and parse overlap the child's enrichment instead of following the
    child's exit.
    """
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
    read_fd, write_fd = os.pipe()
    env[STAGED_FD_ENV] = str(write_fd)
    try:
        proc = subprocess.Popen(
            cmd,
            env=env,
            start_new_session=True,
            pass_fds=(write_fd,),
            preexec_fn=dbt_process.die_with_parent(),  # noqa: PLW1509 - before exec, on purpose
        )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)  # the child holds it now: its end is the pipe's end
    with dbt_process.tracked(proc):
        _hear_staged(read_fd, on_staged)  # returns at the child's word or at its end
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
