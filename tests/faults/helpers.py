"""What fault tests compare: staged plays' content, the warehouse's facts, files a reader sees."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from pipeline.io.atomic import TMP_MARK
from tests.ops.conftest import run_python

REPO = Path(__file__).resolve().parents[2]


def run_killer(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``python -m tests.faults.killer ARGS`` from the repository root."""
    return run_python(["-m", "tests.faults.killer", *args], dict(os.environ), timeout)


def staged_plays_hash(data_dir: Path) -> tuple[int, str]:
    """(rows, content hash) of every staged play, order-independent."""
    files = sorted(str(p) for p in (data_dir / "staged/plays/v1").glob("date=*/*.parquet"))
    if not files:
        return 0, ""
    table = ds.dataset(files, format="parquet").to_table().sort_by("play_id")
    digest = hashlib.sha256(repr(table.to_pylist()).encode()).hexdigest()[:16]
    return table.num_rows, digest


def warehouse_summary(data_dir: Path) -> dict[str, object]:
    """Row count of every mart and a content hash of fct_plays (what 'the same' means)."""
    con = duckdb.connect(str(data_dir / "warehouse/build.duckdb"), read_only=True)
    try:
        marts = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        counts = {
            m: con.execute(f'select count(*) from marts."{m}"').fetchall()[0][0] for m in marts
        }
        digest = con.execute(
            "select md5(string_agg(t::varchar, '\n' order by play_id)) from marts.fct_plays t"
        ).fetchall()[0][0]
    finally:
        con.close()
    return {"counts": counts, "fct_plays_md5": digest}


def unreadable_visible_files(data_dir: Path) -> list[Path]:
    """Parquet files a reader's ``*.parquet`` glob would pick up but cannot read."""
    bad = []
    for path in data_dir.rglob("*.parquet"):
        try:
            pq.read_metadata(path)
        except Exception:  # noqa: BLE001 - any failure means a reader would fail too
            bad.append(path)
    return bad


def temp_leftovers(data_dir: Path) -> list[Path]:
    """Temp files of killed writers (invisible to readers' globs, but still on disk)."""
    return [p for p in data_dir.rglob(f"*{TMP_MARK}*")]
