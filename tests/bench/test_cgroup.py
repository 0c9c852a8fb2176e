"""The bench's memory cgroup: what Docker's `-m` does, measured by the kernel's counters."""

from __future__ import annotations

import sys

import pytest

from bench import cgroup
from bench.proctree import run_tree

pytestmark = pytest.mark.skipif(
    cgroup.unavailable_reason() is not None, reason=str(cgroup.unavailable_reason())
)

ALLOCATE = "import sys; block = bytearray(int(sys.argv[1]) << 20); block[::4096] = b'x' * len(block[::4096]); print('ok')"  # noqa: E501


def _run(limit: str, mib: int) -> tuple[int, cgroup.CgroupResult, str]:
    group = cgroup.MemoryCgroup(f"test-{mib}", cgroup.parse_size(limit))
    try:
        run = run_tree([sys.executable, "-c", ALLOCATE, str(mib)], preexec=group.join)
        return run.returncode, group.result(), run.stdout
    finally:
        group.close()


def test_a_run_that_fits_has_its_peak_and_no_kill() -> None:
    """60 MiB touched in a 100 MiB group: exit 0, the peak covers what was touched, 0 kills."""
    code, result, out = _run("100M", 60)
    assert code == 0 and out.strip() == "ok"
    assert 60 <= result.max_usage_mib <= 100
    assert result.oom_kills == 0
    assert result.limit_mib == 100


def test_a_run_over_the_limit_is_counted_as_an_oom_kill() -> None:
    """150 MiB touched in a 100 MiB group: SIGKILLed by the kernel and counted as such."""
    code, result, _ = _run("100m", 150)
    assert code == -9
    assert result.oom_kills == 1
    assert result.max_usage_mib == pytest.approx(100, abs=1)


def test_sizes_parse_as_docker_does() -> None:
    assert cgroup.parse_size("400M") == cgroup.parse_size("400m") == 400 << 20
    assert cgroup.parse_size("1g") == 1 << 30
    with pytest.raises(ValueError, match="not a memory size"):
        cgroup.parse_size("lots")
