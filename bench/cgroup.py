"""Run a measured command inside a fresh cgroup v1 memory group: Docker's ``mem_limit``.

``docker run -m 400m`` and compose's ``mem_limit`` are a memory cgroup around the container;
Synology's DSM 7 uses cgroup v1. Sampling RSS/PSS from ``/proc`` says what the tree costs, but
only the kernel says whether it *fits*: under a limit it reclaims page cache first and, when
that is not enough, OOM-kills a process of the group (dbt, typically, which the pipeline then
reports as an exit -9). So each scenario run gets its own group (a fresh peak and counters),
and the report carries the kernel's own numbers:

* ``max_usage_mib``: ``memory.max_usage_in_bytes``, the group's peak charge (page cache
  included, so it sits near the limit whenever the run reads a lot of files);
* ``failcnt`` (and ``memsw_failcnt``, memory + swap): how often a charge hit the limit and
  the kernel had to reclaim before it could grant it;
* ``oom_kills``: the ``oom_kill`` counter of ``memory.oom_control`` (kernel >= 4.13), i.e.
  processes the kernel killed for the group: must be 0.

The command joins the group in the child between fork and exec (:meth:`MemoryCgroup.join`), so
it and every child it forks are inside the group before it runs a single line of Python.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

#: Where cgroup v1's memory controller is mounted (DSM 7, this machine).
ROOT = Path("/sys/fs/cgroup/memory")


def parse_size(text: str) -> int:
    """``400M``, ``400m``, ``1G``, ``512MiB`` or bytes -> bytes (binary units, as Docker's)."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?)(i?b)?\s*", text.lower())
    if not found:
        raise ValueError(f"not a memory size: {text!r} (e.g. 400M)")
    number, unit = float(found.group(1)), found.group(2)
    return int(number * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit])


def unavailable_reason() -> str | None:
    """Why a memory cgroup cannot be made here, or None when it can."""
    if not (ROOT / "memory.limit_in_bytes").exists():
        return f"no cgroup v1 memory controller at {ROOT} (cgroup v2 only, or not mounted)"
    if not os.access(ROOT, os.W_OK):
        return f"{ROOT} is not writable (run the bench as root to measure under a limit)"
    return None


@dataclass
class CgroupResult:
    """The kernel's view of one run in its group (MiB, as Docker's ``-m 400m``)."""

    limit_mib: float
    max_usage_mib: float
    failcnt: int
    memsw_failcnt: int
    oom_kills: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "limit_mib": round(self.limit_mib, 1),
            "max_usage_mib": round(self.max_usage_mib, 1),
            "failcnt": self.failcnt,
            "memsw_failcnt": self.memsw_failcnt,
            "oom_kills": self.oom_kills,
        }


class MemoryCgroup:
    """One fresh memory group with a hard limit and no swap; removed by :meth:`close`."""

    def __init__(self, name: str, limit_bytes: int) -> None:
        self.path = ROOT / f"mt-bench-{os.getpid()}-{name}"
        self.limit_bytes = limit_bytes
        self.path.mkdir()
        (self.path / "memory.limit_in_bytes").write_text(str(limit_bytes))
        memsw = self.path / "memory.memsw.limit_in_bytes"
        if memsw.exists():  # memory + swap: the same limit, i.e. no swapping out of trouble
            memsw.write_text(str(limit_bytes))

    def join(self) -> None:
        """Move the calling process into the group (``preexec_fn``: the child, before exec)."""
        fd = os.open(self.path / "cgroup.procs", os.O_WRONLY)
        try:
            os.write(fd, b"0")  # "0" = the writing process itself
        finally:
            os.close(fd)

    def _read(self, name: str) -> str:
        return (self.path / name).read_text()

    def result(self) -> CgroupResult:
        control = dict(
            line.split() for line in self._read("memory.oom_control").splitlines() if line
        )
        return CgroupResult(
            limit_mib=self.limit_bytes / 2**20,
            max_usage_mib=int(self._read("memory.max_usage_in_bytes")) / 2**20,
            failcnt=int(self._read("memory.failcnt")),
            memsw_failcnt=int(self._read("memory.memsw.failcnt"))
            if (self.path / "memory.memsw.failcnt").exists()
            else 0,
            oom_kills=int(control.get("oom_kill", 0)),
        )

    def close(self) -> None:
        """Remove the group once its processes are gone (a leftover one is reported)."""
        for _ in range(50):
            if not self._read("cgroup.procs").strip():
                break
            time.sleep(0.1)
        try:
            self.path.rmdir()
        except OSError as exc:
            print(f"[bench] could not remove {self.path}: {exc}", flush=True)  # noqa: T201
