"""A data folder named `Zoë's music`, the system zone Pacific/Chatham, then both DuckDB files
damaged: the same warehouse and reports as a clean UTC run, and `rebuild` repairs the damage.

Chatham is UTC+12:45/+13:45, so any key or date computed in the system's zone instead of UTC
moves; the quote ends any SQL literal a path is pasted into unquoted.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb
import pytest

from pipeline.io.duck import unreadable_reason
from pipeline.paths import Lake
from tests.conftest import REPO
from tests.faults.conftest import sample_cmd, sample_env

pytestmark = pytest.mark.slow

ODD_ZONE = "Pacific/Chatham"


def _rows(database: Path, schema: str) -> dict[str, tuple[int, str]]:
    """Every table or view of ``schema``: row count and an order-free digest of its rows."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")  # the reader's own zone must not differ either
        names = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = ? "
                "order by 1",
                [schema],
            ).fetchall()
        ]
        return {
            name: con.execute(
                "select count(*), coalesce(md5(string_agg(r, chr(10) order by r)), '') "
                f'from (select t::varchar as r from {schema}."{name}" t)'
            ).fetchone()
            for name in names
        }
    finally:
        con.close()


def _everything(lake_dir: Path) -> tuple[dict, dict]:
    the_lake = Lake(lake_dir)
    return _rows(the_lake.warehouse, "marts"), _rows(the_lake.reporting_db, "marts")


@pytest.fixture(scope="module")
def odd_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample imported into `…/Zoë's music` with TZ=Pacific/Chatham."""
    lake_dir = tmp_path_factory.mktemp("odd") / "Zoë's music"
    done = subprocess.run(
        sample_cmd(lake_dir),
        env=sample_env(lake_dir, ODD_ZONE),
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return lake_dir


def test_a_quoted_folder_and_another_zone_give_the_same_warehouse_and_reports(
    odd_lake: Path, clean_sample_lake: Path
) -> None:
    warehouse, reports = _everything(odd_lake)
    assert warehouse["fct_plays"][0] > 0 and reports["fct_sessions"][0] > 0
    assert set(reports) == set(warehouse)
    assert (warehouse, reports) == _everything(clean_sample_lake)


def test_rebuild_recreates_a_damaged_warehouse_and_reporting_file(
    odd_lake: Path, clean_sample_lake: Path
) -> None:
    the_lake = Lake(odd_lake)
    for damaged in (the_lake.warehouse, the_lake.reporting_db):
        with open(damaged, "r+b") as handle:
            handle.write(b"\x00\xff" * 4096)  # the first 8 KB
        assert unreadable_reason(damaged) is not None
    done = subprocess.run(
        sample_cmd(odd_lake, "rebuild"),
        env=sample_env(odd_lake, ODD_ZONE),
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert unreadable_reason(the_lake.warehouse) is None
    assert unreadable_reason(the_lake.reporting_db) is None
    assert _everything(odd_lake) == _everything(clean_sample_lake)
