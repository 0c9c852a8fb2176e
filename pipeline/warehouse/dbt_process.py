"""Run dbt as a child process the pipeline can watch and always stop.

dbt runs in its own interpreter (importing dbt costs ~100 MB and ~3 s, paid only by a build),
in its **own session**, so stopping it means killing one process group: a timeout, an
exception or a signal in the pipeline (``pipeline.ops.signals``) kills dbt and every thread
pool or helper it started, and nothing is left holding the warehouse's DuckDB lock. On Linux
the child also asks the kernel (``PR_SET_PDEATHSIG``) to SIGKILL it when its parent dies, so
even a SIGKILL of the pipeline, which runs no cleanup, leaves no orphan.

dbt's log arrives as JSON lines in dbt's event shape (``--log-format json``, or the warm child's
``forward_events``, which writes the same shape): each node's start and result become
``on_progress(done, total, message)`` calls ("model 23/39: fct_plays"), which the Luigi task
turns into its status message and progress percentage. The lines are kept for the log, and a
failure is summarised in a few lines (the failing nodes' messages), not the whole log. An
out-of-memory end (SIGKILL from the kernel's OOM killer, or DuckDB's "Out of Memory Error") is
named as such, with the setting to raise.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.io.procs import process_table

logger = logging.getLogger(__name__)

#: ``on_progress(done, total, message)``: a node started or finished.
Progress = Callable[[int, int, str], None]

_PR_SET_PDEATHSIG = 1
#: Seconds between SIGTERM and SIGKILL when stopping a group.
STOP_GRACE_S = 3.0

#: Process groups of the dbt children running now (for ``stop_all`` on a signal).
_running: set[int] = set()
_running_lock = threading.Lock()


class DbtOutOfMemory(RuntimeError):
    """dbt was killed for memory (the kernel's OOM killer) or DuckDB ran out of its limit."""


class DbtTimeout(RuntimeError):
    """dbt did not finish within its time limit and was stopped."""


@dataclass
class DbtResult:
    """How one dbt command ended."""

    returncode: int
    lines: list[str] = field(default_factory=list)  # the log messages, in order
    errors: list[str] = field(default_factory=list)  # messages of error-level events
    #: Nodes dbt skipped because an ephemeral model they use failed (``LogSkipBecauseError``:
    #: error-level too, but an echo of the cause, not a cause; a first build logs dozens).
    skipped: int = 0
    out_of_memory: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def stdout(self) -> str:
        """The log messages as text (what ``subprocess.run`` callers read)."""
        return "\n".join(self.lines)

    stderr = ""  # merged into the log lines

    def summary(self, limit: int = 5) -> str:
        """A few lines saying why the command failed (the error events, else the log's tail),
        then how many nodes were skipped because of it."""
        picked = self.errors or self.lines
        text = "\n".join(line for line in picked[-limit:] if line.strip())
        if self.skipped:
            text += f"\n({self.skipped} nodes skipped: they use what failed)"
        return text


def die_with_parent(parent: int | None = None) -> Callable[[], None]:
    """A ``preexec_fn``: in the child, before exec, be SIGKILLed when ``parent`` dies (Linux).

    ``parent`` is the pid that starts the child (this process by default), taken before the
    fork: the child compares it with its parent pid after ``prctl`` to catch a parent that died
    in between. (Comparing with 1 instead would kill every child of a pipeline running as PID 1,
    as ``docker run IMAGE music-tracker ...`` does.)
    """
    expected = os.getpid() if parent is None else parent

    def preexec() -> None:
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # not Linux/glibc: the session kill still applies
            pass
        if os.getppid() != expected:  # the parent died before prctl: no signal would come
            os._exit(1)

    return preexec


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` still runs (zombies do not count).

    A helper dbt started (multiprocessing's resource tracker) outlives dbt by a moment and,
    orphaned, waits as a zombie until the container's init reaps it, which may be never:
    ``killpg(pgid, 0)`` still finds it. Counting it made every stop wait out both grace
    periods, 1 s added to each build for a process that was already dead.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    if not os.path.isdir("/proc"):
        return True
    return any(p.pgrp == pgid and p.state != "Z" for p in process_table())


def stop_group(pgid: int, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM a process group, then SIGKILL whatever is left after ``grace_s``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not group_alive(pgid):
            return
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if not group_alive(pgid):
                return
            time.sleep(0.05)


def running() -> list[int]:
    """Process groups of the dbt children running now."""
    with _running_lock:
        return sorted(_running)


def stop_all(grace_s: float = STOP_GRACE_S) -> list[int]:
    """Stop every dbt group this process started and still runs (for a signal handler)."""
    with _running_lock:
        groups = sorted(_running)
    for pgid in groups:
        stop_group(pgid, grace_s)
    return groups


def track(proc: subprocess.Popen[Any]) -> None:
    """Count a started child among the running groups (``stop_all`` stops it)."""
    with _running_lock:
        _running.add(proc.pid)


def release(proc: subprocess.Popen[Any]) -> None:
    """Stop what is left of a tracked child's group, reap it, forget it."""
    if proc.poll() is None:
        stop_group(proc.pid)
        proc.wait()
    else:  # the leader is gone; its group may not be
        stop_group(proc.pid, grace_s=0.5)
    with _running_lock:
        _running.discard(proc.pid)


@contextlib.contextmanager
def tracked(proc: subprocess.Popen[Any]) -> Iterator[None]:
    """``track`` for the block, ``release`` after it, however it ends."""
    track(proc)
    try:
        yield
    finally:
        release(proc)


def _node_of(data: dict) -> tuple[str, str]:
    node = data.get("node_info") or {}
    kind = str(node.get("resource_type") or data.get("resource_type") or "node")
    name = str(node.get("node_name") or data.get("node_name") or data.get("description") or "")
    return kind, name


#: Events that carry a node's place in the run (``index`` of ``total``).
_START_EVENTS = {"LogStartLine"}
_RESULT_EVENTS = {
    "LogModelResult",
    "LogTestResult",
    "LogSeedResult",
    "LogSnapshotResult",
    "LogNodeResult",
    "SkippingDetails",
}

#: Error-level events that only say a node was skipped because another failed.
_SKIP_EVENTS = {"LogSkipBecauseError"}

OOM_TEXT = "Out of Memory Error"


def read_events(stream: Iterator[str], result: DbtResult, on_progress: Progress | None) -> None:
    """Consume dbt's JSON log lines: keep the messages, report each node's start and result."""
    for raw in stream:
        line = raw.rstrip("\n")
        try:
            event = json.loads(line)
            info, data = event.get("info", {}), event.get("data", {})
            name, msg, level = info.get("name", ""), str(info.get("msg", "")), info.get("level")
        except (ValueError, AttributeError):
            name, msg, level, data = "", line, None, {}
        result.lines.append(msg)
        logger.debug("dbt: %s", msg)
        if OOM_TEXT in msg:
            result.out_of_memory = True
        if name in _SKIP_EVENTS:
            result.skipped += 1
        elif level == "error" and msg.strip():
            result.errors.append(msg)
        if on_progress is None or not isinstance(data, dict):
            continue
        if name in _START_EVENTS or name in _RESULT_EVENTS:
            try:
                # A test's result (LogTestResult) says num_models where the others say total.
                index = int(data.get("index", 0))
                total = int(data.get("total") or data.get("num_models") or 0)
            except (TypeError, ValueError):
                continue
            if total <= 0:
                continue
            kind, node = _node_of(data)
            done = index if name in _RESULT_EVENTS else index - 1
            try:
                on_progress(done, total, f"{kind} {index}/{total}: {node}")
            except Exception:  # noqa: BLE001 - progress must never break the build
                logger.debug("progress callback failed", exc_info=True)


def oom_message(what: str, memory_limit: str) -> str:
    """The one line a user gets when dbt ran out of memory: what happened, what to raise."""
    return (
        f"{what} ran out of memory: raise duckdb.memory_limit (now {memory_limit}, "
        "MUSIC_TRACKER__DUCKDB__MEMORY_LIMIT) if DuckDB hit it, or the container's mem_limit "
        "if the kernel killed dbt"
    )


def spawn(
    cmd: list[str], env: dict[str, str], cwd: Path, stdin: int | None = None
) -> subprocess.Popen[str]:
    """Start a dbt child: its own session (one group to stop), dying with this process,
    stdout and stderr merged into one text pipe of dbt's JSON log lines."""
    return subprocess.Popen(
        cmd,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL if stdin is None else stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=True,
        preexec_fn=die_with_parent() if sys.platform.startswith("linux") else None,  # noqa: PLW1509
    )


def start_reader(
    proc: subprocess.Popen[str], result: DbtResult, on_progress: Progress | None
) -> threading.Thread:
    """A thread reading the child's log lines into ``result`` (``read_events``)."""
    assert proc.stdout is not None
    reader = threading.Thread(
        target=read_events, args=(proc.stdout, result, on_progress), daemon=True
    )
    reader.start()
    return reader


def watch(
    proc: subprocess.Popen[str],
    result: DbtResult,
    reader: threading.Thread,
    timeout_s: float,
    kills_before: int | None,
) -> DbtResult:
    """Wait for a tracked child to end, stopping its group after ``timeout_s``; its result.

    Raises ``DbtTimeout`` (the group stopped first). An unexplained SIGKILL is checked
    against the cgroup's OOM-kill counter taken before (``kills_before``).
    """
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None:
        if time.monotonic() > deadline:
            stop_group(proc.pid)
            proc.wait()
            raise DbtTimeout(f"dbt did not finish within {timeout_s / 60:g} min")
        reader.join(0.2)
    reader.join(5)
    result.returncode = proc.returncode
    if proc.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL):
        result.out_of_memory = result.out_of_memory or killed_for_memory(kills_before)
    return result


def run_dbt_process(
    cmd: list[str],
    env: dict[str, str],
    cwd: Path,
    timeout_s: float,
    on_progress: Progress | None = None,
) -> DbtResult:
    """Run one dbt command (``cmd`` must include ``--log-format json``) to its end.

    Raises ``DbtTimeout`` after ``timeout_s`` (dbt's group stopped first); any exception or
    signal raised here while dbt runs also stops the group before it propagates.
    """
    result = DbtResult(returncode=-1)
    kills_before = oom_kill_count()
    proc = spawn(cmd, env, cwd)
    with tracked(proc):
        reader = start_reader(proc, result, on_progress)
        return watch(proc, result, reader, timeout_s, kills_before)


def oom_kill_count() -> int | None:
    """The OOM-kill counter of this process's memory cgroup; ``None`` outside a limited one."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
        path = next(p.split(":", 2)[2] for p in lines if ":memory:" in p).strip("/")
        if not path:
            return None
        control = Path("/sys/fs/cgroup/memory") / path / "memory.oom_control"
        for entry in control.read_text().splitlines():
            if entry.startswith("oom_kill "):
                return int(entry.split()[1])
    except (OSError, StopIteration, ValueError, IndexError):
        pass
    return None


def killed_for_memory(kills_before: int | None) -> bool:
    """Whether an unexplained SIGKILL of dbt was most likely the OOM killer.

    Nobody else SIGKILLs dbt alone: the pipeline stops it with SIGTERM first, and raises
    instead of returning. Inside a memory cgroup the ``oom_kill`` counter settles it; outside
    one the likely cause is still memory, so that is what is reported.
    """
    after = oom_kill_count()
    if kills_before is None or after is None:
        return True
    return after > kills_before
