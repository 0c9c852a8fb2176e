"""Run a command inside a memory cgroup (v1) and report what the kernel saw: peak, OOM kills.

Docker's ``mem_limit`` (and Synology DSM 7) is a cgroup v1 memory limit; this is the same
mechanism without Docker. Needs root and ``/sys/fs/cgroup/memory``; ``available()`` says
whether both are there, so the bench can skip with a clear reason instead of failing.

    uv run python -m bench.cgroup_limit --limit 400M -- uv run music-tracker import F...

The kernel's numbers: ``memory.max_usage_in_bytes`` (peak charge: anonymous memory *and* page
cache, so it reaches the limit whenever files are read; the kernel then reclaims cache),
``memory.failcnt`` (times the limit was hit, i.e. reclaim ran) and ``oom_kill`` in
``memory.oom_control`` (processes the OOM killer ended: the number that must stay 0). Beside
them the process tree is sampled every 20 ms for its peak PSS and its peak anonymous RSS (the
part the kernel cannot reclaim without swap).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.proctree import _pss_bytes, descendants

ROOT = Path("/sys/fs/cgroup/memory")


def available() -> str | None:
    """``None`` when a memory cgroup can be made here, else why not."""
    if not (ROOT / "memory.limit_in_bytes").exists():
        return f"no cgroup v1 memory controller at {ROOT}"
    if os.geteuid() != 0:
        return "making a memory cgroup needs root"
    return None


def parse_bytes(text: str) -> int:
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    text = text.strip().upper().removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


@dataclass
class CgroupRun:
    """What the kernel and the sampler saw for one command."""

    returncode: int
    wall_s: float
    limit_mb: float
    max_usage_mb: float
    failcnt: int
    oom_kills: int
    peak_pss_mb: float
    peak_anon_mb: float
    stdout: str = ""
    stderr: str = ""


def _anon_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"RssAnon:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def _oom_kills(group: Path) -> int:
    for line in (group / "memory.oom_control").read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            return int(value)
    return 0


def run_limited(
    cmd: list[str],
    limit: str = "400M",
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    name: str | None = None,
    timeout: float | None = None,
) -> CgroupRun:
    """Run ``cmd`` in a new memory cgroup of ``limit`` (swap included), then remove the group."""
    reason = available()
    if reason:
        raise RuntimeError(reason)
    group = ROOT / (name or f"music-tracker-bench-{os.getpid()}-{time.monotonic_ns()}")
    group.mkdir()
    try:
        (group / "memory.limit_in_bytes").write_text(str(parse_bytes(limit)))
        memsw = group / "memory.memsw.limit_in_bytes"
        if memsw.exists():  # no swap escape: the container's limit is RAM + swap
            try:
                memsw.write_text(str(parse_bytes(limit)))
            except OSError:
                pass
        procs = str(group / "cgroup.procs")

        def enter() -> None:
            with open(procs, "w") as handle:
                handle.write(str(os.getpid()))

        started = time.monotonic()
        proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=enter,  # noqa: PLW1509 - the child joins the group before exec
        )
        peaks = {"pss": 0, "anon": 0}
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                pids = descendants(proc.pid)
                peaks["pss"] = max(peaks["pss"], sum(_pss_bytes(p) for p in pids))
                peaks["anon"] = max(peaks["anon"], sum(_anon_bytes(p) for p in pids))
                stop.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            out, err = proc.communicate(timeout=timeout)
        finally:
            stop.set()
            sampler.join()
        wall = time.monotonic() - started
        return CgroupRun(
            returncode=proc.returncode,
            wall_s=round(wall, 2),
            limit_mb=parse_bytes(limit) / 2**20,
            max_usage_mb=round(int((group / "memory.max_usage_in_bytes").read_text()) / 2**20, 1),
            failcnt=int((group / "memory.failcnt").read_text()),
            oom_kills=_oom_kills(group),
            peak_pss_mb=round(peaks["pss"] / 2**20, 1),
            peak_anon_mb=round(peaks["anon"] / 2**20, 1),
            stdout=out,
            stderr=err,
        )
    finally:
        for _ in range(50):
            try:
                group.rmdir()
                break
            except OSError:  # a process is still leaving the group
                time.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", default="400M")
    parser.add_argument("--label", default="")
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    run = run_limited(cmd, args.limit)
    summary = {k: v for k, v in asdict(run).items() if k not in ("stdout", "stderr")}
    summary["label"] = args.label
    summary["stderr_tail"] = run.stderr.strip().splitlines()[-3:]
    print(json.dumps(summary))
    return 0 if run.returncode == 0 and run.oom_kills == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
