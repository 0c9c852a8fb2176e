"""SIGKILL during the import and staging, then a rerun: the same staged plays as a clean run."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.demo.generate import generate_plays, write_export
from pipeline.io.procs import process_table
from tests.conftest import REPO
from tests.faults.helpers import run_killer, staged_plays_hash, unreadable_visible_files

#: Seeded trials in the default run; bench/faults.py runs many more, dbt and publish included.
TRIALS = 4
POINTS = ("parse", "write", "replace", "after-replace")


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small export: 1,200 plays over 40 days in three files."""
    import datetime as dt

    folder = tmp_path_factory.mktemp("history")
    rows = generate_plays(1200, dt.date(2024, 3, 1), dt.date(2024, 4, 9), seed=3, n_artists=60)
    write_export(rows, folder, rows_per_file=400)
    return folder


@pytest.fixture(scope="module")
def reference(history: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str]:
    """Staged plays of an uninterrupted run."""
    lake = tmp_path_factory.mktemp("reference")
    done = run_killer(["--stage-only", "--", "--data-dir", str(lake), "import", str(history)])
    assert done.returncode == 0, done.stderr[-2000:]
    return staged_plays_hash(lake)


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(TRIALS))
def test_killed_import_then_rerun_equals_clean_run(
    trial: int, history: Path, reference: tuple[int, str], tmp_path: Path
) -> None:
    """A run killed anywhere in import/staging, rerun once, stages exactly the clean run's plays."""
    rng = random.Random(7000 + trial)
    point = POINTS[trial % len(POINTS)]
    at = rng.randint(1, 3) if point == "parse" else rng.randint(1, 40)
    lake = tmp_path / "data"
    lake.mkdir()
    args = ["--data-dir", str(lake), "import", str(history)]
    killed = run_killer(["--point", point, "--at", str(at), "--stage-only", "--", *args])
    assert killed.returncode in (0, -signal.SIGKILL), killed.stderr[-2000:]
    assert unreadable_visible_files(lake) == []
    rerun = run_killer(["--stage-only", "--", *args])
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert staged_plays_hash(lake) == reference
    assert unreadable_visible_files(lake) == []


@pytest.mark.slow
def test_two_imports_at_once_double_nothing(
    history: Path, reference: tuple[int, str], tmp_path: Path
) -> None:
    """Two imports of the same files started together both finish, and no play is doubled."""
    import subprocess
    import sys

    from tests.faults.helpers import REPO

    lake = tmp_path / "data"
    lake.mkdir()
    cmd = [
        sys.executable,
        "-m",
        "tests.faults.killer",
        "--stage-only",
        "--",
        "--data-dir",
        str(lake),
        "import",
        str(history),
    ]
    procs = [
        subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outcomes = [p.communicate(timeout=300) and p.returncode for p in procs]
    assert 0 in outcomes
    assert staged_plays_hash(lake) == reference
    assert unreadable_visible_files(lake) == []


@pytest.mark.slow
def test_a_kill_in_the_import_child_takes_the_whole_import(
    history: Path, reference: tuple[int, str], tmp_path: Path
) -> None:
    """`music-tracker import` stages in a child interpreter: a kill while that child writes
    the day files (a container stop) ends the command too, leaves no half file visible and no
    process behind, and the rerun stages exactly the clean run's plays. (The fault bench's
    import trials reach the child this way; before, its kills could land only after it.)"""
    import time

    from tests.ops.conftest import cli_env

    lake = tmp_path / "data"
    lake.mkdir()
    args = ["--data-dir", str(lake), "import", str(history)]
    killed = subprocess.Popen(
        [sys.executable, "-m", "tests.faults.killer", "--point", "write", "--at", "5", "--", *args],
        cwd=REPO,
        env=cli_env(lake),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, err = killed.communicate(timeout=300)
    assert killed.returncode == -signal.SIGKILL, err[-2000:]
    assert not (lake / "staged/dbt_runs").exists()  # it never got as far as dbt
    assert unreadable_visible_files(lake) == []
    deadline = time.monotonic() + 10
    while _children_of_killer(history) and time.monotonic() < deadline:
        time.sleep(0.1)  # the child killed itself: gone once reaped
    assert _children_of_killer(history) == []
    rerun = run_killer(["--stage-only", "--", *args])
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert staged_plays_hash(lake) == reference


def _children_of_killer(history: Path) -> list[str]:
    """Live import children started under the killer for files of ``history``."""
    found = []
    for entry in process_table():
        if entry.state == "Z":
            continue
        try:
            cmdline = Path(f"/proc/{entry.pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "--child" in cmdline and str(history) in cmdline:
            found.append(cmdline.replace("\0", " "))
    return found
