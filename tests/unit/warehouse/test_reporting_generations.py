"""A reader that holds the reporting file open (as Metabase does) sees one build at a time.

The reader is another process on one long-lived read-only connection. Every query it runs reads
two marts whose rows come from the same build (fct_plays' year parts and agg_daily's totals both
carry the build number), so a query that mixed two publishes, or read a half-written one, shows
different numbers. Publishes run meanwhile, one of them failing halfway (disk full) and one
killed halfway (SIGKILL); afterwards the reporting file, damaged on purpose, is rewritten.
"""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

import pipeline.reporting as reporting
from pipeline.paths import Lake
from pipeline.reporting import generations, publish_marts
from tests.conftest import REPO

YEARS = range(2019, 2025)

READER = textwrap.dedent(
    """
    import os, sys, time, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    give_up = time.monotonic() + 300
    while not os.path.exists(sys.argv[2]) and time.monotonic() < give_up:
        row = con.execute(
            "select (select count(*) from fct_plays), (select min(build) from fct_plays), "
            "(select max(build) from fct_plays), (select sum(plays) from marts.agg_daily), "
            "(select min(build) from agg_daily), (select max(build) from agg_daily)"
        ).fetchone()
        print(*row, flush=True)
    """
)


def _build(the_lake: Lake, build: int) -> None:
    """A warehouse whose marts all say which build made them (more plays every build)."""
    the_lake.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(the_lake.warehouse))
    con.execute("create schema if not exists marts")
    con.execute(
        "create or replace table marts.fct_plays as "
        "select 'p' || y || '-' || i as play_id, make_date(y, 6, 1) as partition_date, "
        f"{build} as build from range({min(YEARS)}, {max(YEARS) + 1}) r(y), "
        f"range({10 + build}) s(i)"
    )
    con.execute(
        "create or replace table marts.agg_daily as select partition_date, count(*) as plays, "
        "any_value(build) as build from marts.fct_plays group by 1"
    )
    con.close()


def _reader(the_lake: Lake, stop: Path) -> subprocess.Popen[str]:
    """Queries in a loop until ``stop`` exists, one line per query."""
    return subprocess.Popen(
        [sys.executable, "-c", READER, str(the_lake.reporting_db), str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _killed_publish(the_lake: Lake, build: int) -> int:
    """A publish SIGKILLed after exporting its third part (as the OOM killer would)."""
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        import pipeline.reporting as reporting
        from pipeline.paths import Lake
        real, count = reporting._write_part, [0]
        def write_part(con, query, target):
            count[0] += 1
            if count[0] == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            real(con, query, target)
        reporting._write_part = write_part
        reporting.publish_marts(Lake(Path({str(the_lake.root)!r})))
        """
    )
    _build(the_lake, build)
    return subprocess.run([sys.executable, "-c", script], cwd=REPO, check=False).returncode


def test_a_long_lived_reader_only_ever_sees_whole_generations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    the_lake = Lake(tmp_path / "data")
    _build(the_lake, 1)
    publish_marts(the_lake)
    stop = tmp_path / "stop"
    reader = _reader(the_lake, stop)
    assert reader.stdout is not None
    first = reader.stdout.readline()  # connected and querying before the publishes start
    assert first.split()[1] == "1", first + reader.stderr.read()

    for build in (2, 3):
        _build(the_lake, build)
        publish_marts(the_lake)

    # Disk full after two parts of build 4: readers keep build 3, nothing is left behind.
    real = reporting._write_part
    calls = []

    def full_disk(con: duckdb.DuckDBPyConnection, query: str, target: Path) -> None:
        calls.append(target)
        if len(calls) > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(con, query, target)

    _build(the_lake, 4)
    monkeypatch.setattr(reporting, "_write_part", full_disk)
    with pytest.raises(OSError, match="No space"):
        publish_marts(the_lake)
    monkeypatch.setattr(reporting, "_write_part", real)
    assert not list(the_lake.reporting_dir.glob("marts-luigi-tmp-*"))
    time.sleep(0.5)  # the reader queries the failed publish's aftermath for a while

    assert _killed_publish(the_lake, 5) == -9
    assert list(the_lake.reporting_dir.glob("marts-luigi-tmp-*"))  # the killed one's folder
    time.sleep(0.5)

    for build in (6, 7, 8):
        _build(the_lake, build)
        publish_marts(the_lake)
    assert not list(the_lake.reporting_dir.glob("marts-luigi-tmp-*"))
    assert len(generations(the_lake)) == reporting.KEEP_GENERATIONS

    time.sleep(0.3)  # a few queries on the last build
    stop.touch()
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    seen: dict[int, int] = {}
    for line in [first, *out.splitlines()]:
        plays, lo, hi, daily, daily_lo, daily_hi = (int(v) for v in line.split())
        assert lo == hi == daily_lo == daily_hi, f"a query mixed builds: {line}"
        assert plays == daily == len(YEARS) * (10 + lo), f"a half-published build: {line}"
        seen[lo] = seen.get(lo, 0) + 1
    # The reader followed the publishes on its one connection, and never saw 4 or 5.
    assert {1, 3, 8} <= set(seen) and not {4, 5} & set(seen), seen


def test_every_publish_rewrites_a_reporting_file_that_does_not_open(tmp_path: Path) -> None:
    """The first 8 KB of the views file overwritten: the next publish makes it readable again."""
    the_lake = Lake(tmp_path / "data")
    _build(the_lake, 1)
    publish_marts(the_lake)
    with open(the_lake.reporting_db, "r+b") as handle:
        handle.write(b"\x5a" * 8192)
    with pytest.raises(duckdb.Error):
        duckdb.connect(str(the_lake.reporting_db), read_only=True)

    publish_marts(the_lake)  # nothing changed in the warehouse
    con = duckdb.connect(str(the_lake.reporting_db), read_only=True)
    assert con.execute("select count(*) from marts.fct_plays").fetchone() == (len(YEARS) * 11,)
    con.close()


def test_a_clock_stepped_back_keeps_whole_builds_in_publish_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Publishes made an hour ahead, then at the true time: none waits an hour, the newest build
    stays the current generation, and a reader still gets one whole build (not an empty one)."""
    the_lake = Lake(tmp_path / "data")
    ahead = time.time_ns() + 3600 * 10**9
    monkeypatch.setattr(reporting.time, "time_ns", lambda: ahead)
    for build in (1, 2):
        _build(the_lake, build)
        publish_marts(the_lake)
    monkeypatch.undo()
    _build(the_lake, 3)
    started = time.monotonic()
    publish_marts(the_lake)
    assert time.monotonic() - started < 30

    current = duckdb.connect().execute(
        "select distinct build from read_parquet(?)",
        [str(the_lake.reporting_mart_dir("fct_plays") / "*.parquet")],
    )
    assert current.fetchall() == [(3,)]
    con = duckdb.connect(str(the_lake.reporting_db), read_only=True)
    row = con.execute(
        "select (select count(*) from fct_plays), (select min(build) from fct_plays), "
        "(select max(build) from agg_daily), (select sum(plays) from agg_daily)"
    ).fetchone()
    con.close()
    assert row is not None and row[1] == row[2] and row[0] == row[3] == len(YEARS) * (10 + row[1])
