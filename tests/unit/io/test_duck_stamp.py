"""A DuckDB file as its writer recorded it is trusted; any later change is checked by opening."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from pipeline.io.duck import file_stamp, unreadable_reason


def _database(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create table t as select 1 as x")
    con.close()
    return path


def test_a_file_damaged_after_its_stamp_is_found(tmp_path: Path) -> None:
    """Overwriting the header moves the stamp (ctime), so the damage is seen even when the
    size and the mtime are put back as they were."""
    path = _database(tmp_path / "w.duckdb")
    written = file_stamp(path)
    assert unreadable_reason(path, written) is None
    stat = path.stat()
    with open(path, "r+b") as handle:
        handle.write(b"\x00\xff" * 4096)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    assert unreadable_reason(path, written) is not None


def test_no_stamp_or_another_stamp_opens_the_file(tmp_path: Path) -> None:
    """Markers written before stamps existed (None) and stale stamps fall back to opening."""
    path = tmp_path / "w.duckdb"
    path.write_bytes(b"not a database" * 1000)
    assert unreadable_reason(path) is not None
    assert unreadable_reason(path, "1:2:3:4") is not None
    assert file_stamp(tmp_path / "absent.duckdb") is None
