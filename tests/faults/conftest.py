"""The clean run fault trials compare against: the bundled sample imported once per session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, child_env

SAMPLE = REPO / "data" / "sample"


def sample_env(lake_dir: Path, tz: str = "UTC") -> dict[str, str]:
    """A `music-tracker` subprocess on ``lake_dir`` with testing settings and system zone ``tz``."""
    return child_env(lake_dir, TZ=tz)


def sample_cmd(lake_dir: Path, command: str = "import") -> list[str]:
    """`music-tracker --data-dir D import data/sample` (or another command on that lake)."""
    args = ["import", str(SAMPLE)] if command == "import" else [command]
    return [sys.executable, "-m", "pipeline.cli", "--data-dir", str(lake_dir), *args]


@pytest.fixture(scope="session")
def clean_sample_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample imported without interruption under TZ=UTC (built once: a dbt build is slow)."""
    lake_dir = tmp_path_factory.mktemp("clean") / "data"
    done = subprocess.run(
        sample_cmd(lake_dir), env=sample_env(lake_dir), cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return lake_dir
