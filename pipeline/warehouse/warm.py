"""dbt's interpreter started ahead of its command, so its imports and parse overlap other work.

A dbt command pays ~1.6 s of imports and ~1.1 s of (partial) parse before its first node, on
every 30-minute cycle. The build knows much earlier that it will run dbt: Luigi schedules an
incomplete ``DbtBuild`` before it runs the enrichment and the build's own preparation. ``start``
then launches ``warm_child`` (dbt imported, the project parsed, waiting on stdin for its
command), and ``run`` hands it the command once the inputs are ready; with no child waiting (a
command run alone, or one whose flags, environment or project differ) ``run`` starts one and
hands it the command at once, which costs what a plain ``dbt`` process costs.

The child is the same kind of process ``dbt_process`` watches (own session, dies with this
process, counted by ``stop_all``), for the whole time it exists: a child that is never given a
command is stopped by ``discard`` (the Luigi run's end), by a signal, or by this process's death.
While it waits it holds ~135 MB and no file of the lake open (parsing reads only the project).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.warehouse import dbt_process
from pipeline.warehouse.dbt_process import DbtResult, Progress

logger = logging.getLogger(__name__)

#: The child's module (``python -m``): never a top-level ``dbt_*`` module, which dbt imports.
CHILD = "pipeline.warehouse.warm_child"


@dataclass
class _Relay:
    """The progress callback of the command being run (None while the child only parses)."""

    target: Progress | None = None

    def __call__(self, done: int, total: int, message: str) -> None:
        if self.target is not None:
            self.target(done, total, message)


@dataclass
class Warm:
    """A started child: what it was started with, and what it said so far."""

    proc: subprocess.Popen[str]
    key: str
    owner: int  # the pid that started it: a forked Luigi worker process must not use it
    result: DbtResult  # what it said so far (its reader fills it)
    relay: _Relay
    reader: threading.Thread
    kills_before: int | None


_current: Warm | None = None
_lock = threading.Lock()
#: Whether a scheduled build may start dbt ahead now (``starting_ahead``).
_ahead = False


@contextlib.contextmanager
def starting_ahead(enabled: bool) -> Iterator[None]:
    """Within the block, a scheduled build may start dbt ahead (``may_start_ahead``).

    The pipeline's runner opens it around Luigi's scheduling when the worker runs tasks in its
    own process: a worker that forks a process per task (``scheduler.workers`` > 1) would run
    the build in a child that cannot use a dbt its parent started, and a plain ``luigi``
    command has nobody to stop an unused one before it exits.
    """
    global _ahead
    before, _ahead = _ahead, enabled
    try:
        yield
    finally:
        _ahead = before


def may_start_ahead() -> bool:
    """Whether a build scheduled now may start dbt ahead (inside ``starting_ahead(True)``)."""
    return _ahead


def child_key(shared: list[str], env: dict[str, str], cwd: Path, project: str) -> str:
    """What a child's parse depends on: dbt's shared flags, the environment, the project."""
    blob = json.dumps([shared, sorted(env.items()), str(cwd), project])
    return hashlib.sha256(blob.encode()).hexdigest()


def _spawn(shared: list[str], env: dict[str, str], cwd: Path, key: str) -> Warm:
    # The child's dbt needs no resource tracker (warm_child.lock_context); should a dbt version
    # start one anyway, its warnings about semaphores left at os._exit stay out of the log.
    env = {**env, "PYTHONWARNINGS": "ignore::UserWarning:multiprocessing.resource_tracker"}
    kills_before = dbt_process.oom_kill_count()
    cmd = [sys.executable, "-m", CHILD, json.dumps(shared)]
    proc = dbt_process.spawn(cmd, env, cwd, stdin=subprocess.PIPE)
    dbt_process.track(proc)
    result, relay = DbtResult(returncode=-1), _Relay()
    reader = dbt_process.start_reader(proc, result, relay)
    return Warm(proc, key, os.getpid(), result, relay, reader, kills_before)


def start(shared: list[str], env: dict[str, str], cwd: Path, project: str) -> None:
    """Start a child parsing for a command that will follow (nothing if one already waits)."""
    global _current
    key = child_key(shared, env, cwd, project)
    with _lock:
        if _current is not None and _current.key == key and _current.proc.poll() is None:
            return
        _discard_locked()
        _current = _spawn(shared, env, cwd, key)
        logger.debug("dbt started ahead of its command (pid %s)", _current.proc.pid)


def _take(key: str) -> Warm | None:
    """The waiting child if it was started with ``key`` by this process and is alive."""
    global _current
    with _lock:
        warm, _current = _current, None
    if warm is None:
        return None
    if warm.owner == os.getpid() and warm.key == key and warm.proc.poll() is None:
        return warm
    if warm.owner == os.getpid():
        if warm.proc.poll() is not None:
            logger.warning(
                "dbt started ahead ended before its command (exit %s); starting it again",
                warm.proc.returncode,
            )
        dbt_process.release(warm.proc)
    return None


def run(
    shared: list[str],
    command: list[str],
    env: dict[str, str],
    cwd: Path,
    project: str,
    timeout_s: float,
    on_progress: Progress | None = None,
) -> DbtResult:
    """Run ``command`` (``["build", "--select", ...]``) with ``shared`` flags in a child.

    The child started ahead with the same flags, environment and project is used; otherwise
    one is started now. Raises ``DbtTimeout`` after ``timeout_s`` from now; the child's group
    is stopped however this ends.
    """
    key = child_key(shared, env, cwd, project)
    warm = _take(key) or _spawn(shared, env, cwd, key)
    assert warm.proc.stdin is not None
    warm.relay.target = on_progress
    try:
        try:
            warm.proc.stdin.write(json.dumps(command) + "\n")
            warm.proc.stdin.close()
        except BrokenPipeError:  # it died meanwhile: watch() reports how
            pass
        return dbt_process.watch(warm.proc, warm.result, warm.reader, timeout_s, warm.kills_before)
    finally:
        dbt_process.release(warm.proc)


def _discard_locked() -> None:
    global _current
    warm, _current = _current, None
    if warm is not None and warm.owner == os.getpid():
        dbt_process.release(warm.proc)


def discard() -> None:
    """Stop a child that was started ahead and never given its command (a run's end)."""
    with _lock:
        _discard_locked()


def waiting() -> bool:
    """Whether a child started ahead is waiting for its command (for tests and status)."""
    with _lock:
        return _current is not None and _current.proc.poll() is None
