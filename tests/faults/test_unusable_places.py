"""A data folder or backup destination the command cannot write in: one line, never a traceback.

On a NAS the usual causes are a share mounted read-only, a volume owned by another user, or a
path typed wrong (a file where the folder should be). Each used to end in an ``OSError``
traceback from the log file's or the lock's creation.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ops.conftest import run_cli


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(list(args), dict(os.environ), timeout=120)


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (["build"], "cannot use data folder {}: Not a directory"),
        (["import", "tests/fixtures/exports"], "cannot use data folder {}: Not a directory"),
        (["status"], "data folder {} is a file, not a folder"),
    ],
)
def test_a_file_in_the_data_folders_place_is_named(
    tmp_path: Path, command: list[str], said: str
) -> None:
    """--data-dir naming a file: exit 2 and one line naming the folder and what failed."""
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    done = _run("--data-dir", str(blocker), *command)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert said.format(blocker) in done.stderr
    assert blocker.read_text() == "not a folder"


@pytest.fixture
def read_only_lake(tmp_path: Path) -> Iterator[Path]:
    """An empty lake seen through a read-only bind mount (EROFS reaches root too)."""
    lake = tmp_path / "lake"
    view = tmp_path / "view"
    lake.mkdir()
    view.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(lake), str(view)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("bind mounts need root with CAP_SYS_ADMIN")
    try:
        remount = ["mount", "-o", "remount,ro,bind", str(view)]
        if subprocess.run(remount, capture_output=True).returncode != 0:
            pytest.skip("cannot remount read-only here")
        yield view
    finally:
        subprocess.run(["umount", str(view)], check=False)


def test_a_read_only_data_folder_is_named(read_only_lake: Path) -> None:
    done = _run("--data-dir", str(read_only_lake), "build")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "Read-only file system" in done.stderr and "may write there" in done.stderr


def test_a_backup_to_a_file_or_a_read_only_place_is_one_line(
    tmp_path: Path, read_only_lake: Path
) -> None:
    """backup DEST where DEST is a file: exit 2 saying so; where DEST cannot be written:
    exit 1, the reason, and nothing left behind."""
    lake = tmp_path / "data"
    (lake / "raw").mkdir(parents=True)
    (lake / "raw/kept.json").write_text("{}")
    a_file = tmp_path / "backups.txt"
    a_file.write_text("x")
    done = _run("--data-dir", str(lake), "backup", str(a_file))
    assert done.returncode == 2 and f"{a_file} is a file" in done.stderr
    done = _run("--data-dir", str(lake), "backup", str(read_only_lake / "backups"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "Read-only file system" in done.stderr and "nothing was kept" in done.stderr
    assert list(read_only_lake.iterdir()) == []
