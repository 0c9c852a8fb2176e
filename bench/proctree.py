"""Run a command and measure its whole process tree: wall time, CPU time, peak memory.

The pipeline starts dbt in a subprocess (and Luigi may fork workers), so the memory that
matters on a 400 MB container is the *sum* over the tree at its worst moment, not the largest
single process. A sampler thread walks ``/proc`` every ``interval`` seconds, finds every
descendant of the command, and sums two numbers:

* ``rss``: resident set size, what ``ps`` shows (counts pages shared between processes once
  per process, so it over-states a forked tree);
* ``pss``: proportional set size from ``/proc/<pid>/smaps_rollup`` (shared pages split between
  the processes sharing them: what the tree really costs the container).

It also records the name of every process seen, so a scenario can assert that dbt never ran.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.io.procs import process_table

_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class TreeRun:
    """What one measured command did."""

    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    peak_pss_mb: float
    processes: set[str] = field(default_factory=set)
    peak_rss_by_process_mb: dict[str, float] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""
    #: The kernel's counters when the run was inside a memory cgroup (``bench/cgroup.py``).
    cgroup: dict | None = None


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in process_table():
        children.setdefault(entry.ppid, []).append(entry.pid)
    return children


def descendants(root: int) -> list[int]:
    """``root`` and every process below it, right now."""
    children = _children_map()
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _pss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def _name(pid: int) -> str:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        return " ".join(os.path.basename(p.decode(errors="replace")) for p in cmdline[:3] if p)
    except OSError:
        return ""


class _Sampler(threading.Thread):
    def __init__(self, root: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.peak_rss = 0
        self.peak_pss = 0
        self.names: set[str] = set()
        self.seen: set[int] = set()
        self.pid_names: dict[int, str] = {}
        self.peak_by_name: dict[str, float] = {}
        self.stop = threading.Event()

    def sample(self) -> None:
        pids = descendants(self.root)
        rss = pss = 0
        for pid in pids:
            one_rss = _rss_bytes(pid)
            rss += one_rss
            pss += _pss_bytes(pid)
            if pid not in self.seen:
                self.seen.add(pid)
                self.pid_names[pid] = _name(pid)
                self.names.add(self.pid_names[pid])
            name = self.pid_names[pid]
            self.peak_by_name[name] = max(self.peak_by_name.get(name, 0), one_rss / 1e6)
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.interval)


def run_tree(
    cmd: list[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    interval: float = 0.02,
    timeout: float | None = None,
    preexec: Callable[[], None] | None = None,
) -> TreeRun:
    """Run ``cmd`` to completion while sampling its process tree.

    ``preexec`` runs in the child before it execs (e.g. joining a memory cgroup, so the command
    and every child it forks are charged to it from their first page).
    """
    before = os.times()
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec,  # noqa: PLW1509 - only os.write-level work: joining a cgroup
    )
    sampler = _Sampler(proc.pid, interval)
    sampler.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        sampler.stop.set()
        sampler.join()
    wall = time.monotonic() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return TreeRun(
        returncode=proc.returncode,
        wall_s=wall,
        cpu_s=cpu,
        peak_rss_mb=sampler.peak_rss / 1e6,
        peak_pss_mb=sampler.peak_pss / 1e6,
        processes={n for n in sampler.names if n},
        peak_rss_by_process_mb={k: round(v, 1) for k, v in sampler.peak_by_name.items() if k},
        stdout=out,
        stderr=err,
    )
