"""Metabase's view of reporting/ across a rebuild, with its own DuckDB; backup and restore."""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb
import pytest

from tests.metabase_duckdb import METABASE_DUCKDB
from tests.ops.conftest import cli_env, run_cli

pytestmark = pytest.mark.slow

EXPORTS = Path(__file__).parents[1] / "fixtures/exports"

READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(duckdb.__version__, flush=True)
print(con.execute("select count(*) from fct_plays").fetchone()[0], flush=True)
sys.stdin.readline()
print(con.execute("select count(*) from fct_plays").fetchone()[0], flush=True)
print(con.execute("select count(*) from marts.dim_track").fetchone()[0], flush=True)
"""


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake built by `music-tracker import` from one real export file."""
    root = tmp_path_factory.mktemp("home") / "data"
    result = run_cli(
        ["import", str(EXPORTS / "hl105_StreamingHistory_music_0_first60.json")], cli_env(root)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return root


def test_metabase_duckdb_reads_reporting_across_a_rebuild(
    lake: Path, metabase_duckdb: Path
) -> None:
    """DuckDB 1.5.3 holds reporting.duckdb open read-only while the pipeline rebuilds, unblocked,
    and sees the new plays on its next query."""
    reader = subprocess.Popen(
        [str(metabase_duckdb), "-c", READER, str(lake / "reporting/reporting.duckdb")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        version = reader.stdout.readline().strip()
        assert version, reader.stderr.read()
        assert version == METABASE_DUCKDB
        before = int(reader.stdout.readline())
        assert before > 0
        # A full rebuild with more data while the reader holds its connection.
        result = run_cli(
            ["import", str(EXPORTS / "averydata_StreamingHistory0_first40.json")], cli_env(lake)
        )
        assert result.returncode == 0, result.stderr[-3000:]
        reader.stdin.write("go\n")
        reader.stdin.flush()
        after = int(reader.stdout.readline())
        tracks = int(reader.stdout.readline())
        assert reader.wait(timeout=60) == 0, reader.stderr.read()
    finally:
        if reader.poll() is None:
            reader.kill()
    con = duckdb.connect(str(lake / "warehouse/build.duckdb"), read_only=True)
    expected = con.execute("select count(*) from marts.fct_plays").fetchone()[0]
    con.close()
    assert after == expected > before
    assert tracks > 0


def test_backup_restores_into_an_empty_folder_and_rebuilds_the_same_warehouse(
    lake: Path, tmp_path: Path
) -> None:
    """README restore steps: copy the backup's data/ into an empty folder, verify, rebuild:
    the same warehouse, and the token cache keeps its 0600 mode."""
    token = lake / "state/spotify/me.token.json"
    token.parent.mkdir(parents=True, exist_ok=True)
    token.write_text('{"refresh_token": "x"}')
    token.chmod(0o600)
    dest = tmp_path / "backups"
    made = run_cli(["backup", str(dest)], cli_env(lake))
    assert made.returncode == 0, made.stderr[-2000:]
    (backup,) = list(dest.iterdir())
    assert not (backup / "data/warehouse").exists() and not (backup / "data/staged/plays").exists()

    restored = tmp_path / "restored"
    restored.mkdir()
    subprocess.run(["cp", "-a", f"{backup}/data/.", f"{restored}/"], check=True)
    assert run_cli(["backup", "--verify", str(backup)], cli_env(restored)).returncode == 0
    rebuilt = run_cli(["rebuild"], cli_env(restored))
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]

    assert (restored / "state/spotify/me.token.json").stat().st_mode & 0o777 == 0o600
    query = "select * exclude (loaded_at) from marts.fct_plays order by all"
    tables = (
        "select table_name from information_schema.tables where table_schema='marts' order by 1"
    )
    results = []
    for root in (lake, restored):
        con = duckdb.connect(str(root / "warehouse/build.duckdb"), read_only=True)
        try:
            cols = {r[0] for r in con.execute("describe marts.fct_plays").fetchall()}
            sql = query if "loaded_at" in cols else query.replace(" exclude (loaded_at)", "")
            results.append((con.execute(tables).fetchall(), con.execute(sql).fetchall()))
        finally:
            con.close()
    assert results[0] == results[1]
    assert len(results[0][1]) > 0
