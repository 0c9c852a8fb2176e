"""State damaged on disk (markers, import receipts, lookup partitions): the next build or
`rebuild` runs instead of crashing or failing at every run.

All of it is written atomically, so only a hand edit or a damaged disk leaves it so. Before, a
marker that read as another JSON value (``null``, a list) raised in ``complete()``: every later
`music-tracker build` ended "failed scheduling" (exit 35) and `status` crashed, until someone
found and deleted the file. A damaged receipt crashed `rebuild`, the command a user runs after
damage, and a damaged lookup partition failed dbt at every build.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.ingest.exports import RECEIPT_SUFFIX, raw_imports
from pipeline.io.markers import latest_marker
from pipeline.paths import Lake
from pipeline.reporting import PUBLISH_MARKER, current_generation, is_published
from pipeline.warehouse.current import BUILD_MARKER, latest_build
from tests.conftest import REPO
from tests.faults.conftest import sample_cmd, sample_env
from tests.faults.helpers import warehouse_summary

pytestmark = pytest.mark.slow


def _copy(clean_sample_lake: Path, tmp_path: Path) -> Path:
    """A copy of the sample lake to damage."""
    lake_dir = tmp_path / "data"
    shutil.copytree(clean_sample_lake, lake_dir, symlinks=True)
    return lake_dir


def _run(lake_dir: Path, command: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`music-tracker --data-dir LAKE COMMAND ARGS` as a user runs it."""
    return subprocess.run(
        [*sample_cmd(lake_dir, command), *args],
        env=sample_env(lake_dir),
        cwd=REPO,
        capture_output=True,
        text=True,
    )


def _latest_marker_path(directory: Path, name: str) -> Path:
    found = latest_marker(directory, name)
    assert found is not None
    return directory / f"date={found[0].isoformat()}" / name


@pytest.mark.parametrize("body", ["null", "[1, 2]"], ids=["null", "list"])
def test_a_damaged_build_and_publish_marker_are_built_past(
    tmp_path: Path, clean_sample_lake: Path, body: str
) -> None:
    lake_dir = _copy(clean_sample_lake, tmp_path)
    the_lake = Lake(lake_dir)
    damaged = [
        _latest_marker_path(the_lake.dbt_runs_dir, BUILD_MARKER),
        _latest_marker_path(the_lake.staged / "published", PUBLISH_MARKER),
    ]
    generation = current_generation(the_lake)
    assert generation is not None
    damaged.append(generation / "published.json")
    for path in damaged:
        path.write_text(body, encoding="utf-8")

    status = _run(lake_dir, "status")
    assert "Traceback" not in status.stderr, status.stderr[-2000:]
    assert "last build:" in status.stdout

    build = _run(lake_dir, "build")
    assert build.returncode == 0, build.stderr[-2000:]
    assert "Traceback" not in build.stderr
    assert latest_build(the_lake) is not None and is_published(the_lake)
    assert warehouse_summary(lake_dir) == warehouse_summary(clean_sample_lake)


def test_rebuild_reads_past_damaged_import_receipts(
    tmp_path: Path, clean_sample_lake: Path
) -> None:
    """Receipts truncated, emptied or naming no file: `rebuild` still rebuilds every file, as
    the account the receipt's name says, into the same warehouse."""
    lake_dir = _copy(clean_sample_lake, tmp_path)
    receipts = sorted((lake_dir / "raw" / "exports").glob(f"*/*{RECEIPT_SUFFIX}"))
    assert len(receipts) == 3
    damage = ['{"account": "me", "fi', "null", '{"account": "me", "file": "../../../etc/passwd"}']
    for receipt, body in zip(receipts, damage, strict=True):
        receipt.write_text(body, encoding="utf-8")

    rebuild = _run(lake_dir, "rebuild")
    assert rebuild.returncode == 0, rebuild.stderr[-2000:]
    assert rebuild.stderr.count("is damaged; rebuilding") == 3
    assert warehouse_summary(lake_dir) == warehouse_summary(clean_sample_lake)


def test_a_receipt_without_its_raw_copy_is_named_and_the_rest_kept(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kept = data_dir / "raw" / "exports" / "0123456789abcdef"
    kept.mkdir(parents=True)
    (kept / "Streaming_History_Audio_2023_0.json").write_text("[]", encoding="utf-8")
    (kept / f"me{RECEIPT_SUFFIX}").write_text(
        '{"account": "me", "file": "Streaming_History_Audio_2023_0.json"}', encoding="utf-8"
    )
    gone = data_dir / "raw" / "exports" / "fedcba9876543210"
    gone.mkdir()
    (gone / f"partner{RECEIPT_SUFFIX}").write_text(
        '{"account": "partner", "file": "endsong_0.json"}', encoding="utf-8"
    )
    with caplog.at_level(logging.ERROR):
        found = raw_imports()
    assert found == [(kept / "Streaming_History_Audio_2023_0.json", "me")]
    assert "raw copy is gone" in caplog.text and "--account partner" in caplog.text


def test_a_damaged_lookup_partition_is_set_aside_and_the_build_runs(
    tmp_path: Path, clean_sample_lake: Path
) -> None:
    """A lookup partition that is not Parquet any more failed every `build` in dbt (and every
    lookup read): it is moved aside as .unreadable, named in the log, and the build runs."""
    lake_dir = _copy(clean_sample_lake, tmp_path)
    partitions = sorted((lake_dir / "staged" / "lookups").glob("*/*/date=*/*.parquet"))
    assert partitions
    damaged = partitions[-1]
    damaged.write_bytes(b"PAR1 cut short")
    # A day not built yet (tomorrow, the latest a build takes): the build checks its inputs again.
    later_day = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()

    build = _run(lake_dir, "build", "--date", later_day)
    assert build.returncode == 0, build.stderr[-2000:]
    assert f"lookup partition {damaged} is not readable Parquet" in build.stderr
    assert not damaged.exists()
    assert damaged.with_name(damaged.name + ".unreadable").read_bytes() == b"PAR1 cut short"
    assert warehouse_summary(lake_dir) == warehouse_summary(clean_sample_lake)
