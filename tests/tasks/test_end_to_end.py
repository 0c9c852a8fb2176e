"""The bundled sample through every task into the warehouse and the reporting layer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipeline import cli, settings
from pipeline.io.markers import latest_marker
from pipeline.paths import Lake
from tests.conftest import REPO

pytestmark = pytest.mark.slow

SAMPLE = REPO / "data" / "sample"


def _fct_hash(lake_dir: Path) -> tuple[int, int, str]:
    """Row count, total ms and a content hash of the published fct_plays."""
    fct = Lake(lake_dir).reporting_mart_dir("fct_plays") / "*.parquet"
    row = (
        duckdb.connect()
        .execute(
            "select count(*), sum(ms_played), "
            "md5(string_agg(play_sk || '|' || ms_played || '|' || track_sk || '|' || date_sk, ',' "
            "order by play_sk)) from read_parquet(?)",
            [str(fct)],
        )
        .fetchone()
    )
    assert row is not None
    return int(row[0]), int(row[1]), str(row[2])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A lake with the bundled sample imported and built once for the whole module."""
    lake_dir = tmp_path_factory.mktemp("e2e") / "data"
    mp = pytest.MonkeyPatch()
    mp.setenv("MUSIC_TRACKER_ENV", "testing")
    mp.setenv("MUSIC_TRACKER__PATHS__DATA_DIR", str(lake_dir))
    settings.reload_settings()
    assert cli.main(["--data-dir", str(lake_dir), "import", str(SAMPLE)]) == 0
    yield lake_dir
    mp.undo()
    settings.reload_settings()


def _sample_counts() -> tuple[int, int]:
    """Plays and total ms in the sample's extended files (the account-data ones overlap)."""
    row = (
        duckdb.connect()
        .execute(
            "select count(*), sum(ms_played) from read_json(?, format = 'array', "
            "columns = {ts: 'VARCHAR', ms_played: 'BIGINT'})",
            [str(SAMPLE / "Streaming_History_Audio_*.json")],
        )
        .fetchone()
    )
    assert row is not None
    return int(row[0]), int(row[1])


def _python_lines(code: str, lake_dir: Path, prefix: str, timeout: int = 300) -> list[str]:
    """Run ``code`` in a fresh interpreter on ``lake_dir`` (it must exit 0); the lines of its
    output starting with ``prefix``."""
    from tests.ops.conftest import cli_env, run_python

    result = run_python(["-c", code], cli_env(lake_dir), timeout)
    assert result.returncode == 0, result.stderr[-2000:]
    return [line for line in result.stdout.splitlines() if line.startswith(prefix)]


def test_sample_reaches_the_warehouse_with_every_play(built: Path) -> None:
    """Every sample play is in fct_plays once; the overlapping account-data rows are not added."""
    plays, ms = _sample_counts()
    count, total_ms, _ = _fct_hash(built)
    assert (count, total_ms) == (plays, ms)
    con = duckdb.connect(str(built / "warehouse" / "build.duckdb"), read_only=True)
    staged = con.execute(
        "select count(*) from read_parquet(?)", [str(built / "staged/plays/v1/*/*.parquet")]
    ).fetchone()
    assert staged == (plays,)
    dims = dict(
        con.execute(
            "select 'tracks', count(*) from marts.dim_track union all "
            "select 'artists', count(*) from marts.dim_artist union all "
            "select 'unknown_fk', count(*) from marts.fct_plays f "
            "left join marts.dim_track t using (track_sk) where t.track_sk is null"
        ).fetchall()
    )
    con.close()
    assert dims["tracks"] > 100 and dims["artists"] > 50
    assert dims["unknown_fk"] == 0


def test_demo_style_summary_is_printed(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The summary names plays, hours, top artists and where both databases are."""
    from pipeline.summary import print_summary

    print_summary()
    out = capsys.readouterr().out
    assert "plays:" in out and "hours listened:" in out and "top artists:" in out
    assert str(built / "reporting" / "reporting.duckdb") in out


def test_second_run_is_a_no_op_with_identical_tables(built: Path) -> None:
    """Running the pipeline again (and re-importing the sample) changes no table."""
    before = _fct_hash(built)
    marker = sorted((built / "staged" / "dbt_runs").glob("date=*/run_results.json"))[-1]
    stamp = marker.stat().st_mtime_ns
    assert cli.main(["--data-dir", str(built), "import", str(SAMPLE)]) == 0
    assert marker.stat().st_mtime_ns == stamp  # dbt did not run again
    assert _fct_hash(built) == before


def test_a_no_op_build_loads_no_data_library(built: Path) -> None:
    """`build` with nothing new (every 30 minutes at home) decides it from file stamps alone:
    it loads neither Arrow, Polars, DuckDB nor dbt (Arrow alone was ~30 MB of its ~80 MB), nor
    the JSON-schema validator Luigi would load for no parameter here (~50 ms of ~0.4 s), nor an
    HTTP library with nothing to fetch (requests with urllib3 and ssl: ~55 ms of ~0.37 s).
    The first pass after an import reads the new files' footers once and remembers them.
    (Before the next test, which replaces the warehouse file: a no-op then opens it.)"""
    assert cli.main(["--data-dir", str(built), "build"]) == 0  # the pass that remembers

    code = (
        "import atexit, sys\n"
        "heavy = ('pyarrow', 'polars', 'duckdb', 'dbt', 'jsonschema', 'requests', 'urllib3')\n"
        "atexit.register(lambda: print('LOADED', *[m for m in heavy if m in sys.modules]))\n"
        "from pipeline.cli import main\n"
        f"sys.exit(main(['--data-dir', {str(built)!r}, 'build']))\n"
    )
    assert _python_lines(code, built, "LOADED", timeout=120) == ["LOADED"]


def test_a_no_op_build_opens_no_duckdb_file_until_one_changes(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With nothing new, `build` trusts the warehouse and views file as the last build and
    publish left them (their markers' file stamps) instead of opening them; a file replaced
    since, even by an identical copy, is opened and checked again."""
    from pipeline.io import duck

    opened: list[str] = []
    real = duck._unreadable_reason

    def spy(path: Path) -> str | None:
        opened.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(duck, "_unreadable_reason", spy)
    the_lake = Lake(built)
    marker = sorted((built / "staged" / "dbt_runs").glob("date=*/run_results.json"))[-1]
    before = marker.stat().st_mtime_ns
    assert cli.main(["--data-dir", str(built), "build"]) == 0
    assert opened == []
    copy = the_lake.warehouse.with_name("copy.duckdb")
    shutil.copy2(the_lake.warehouse, copy)
    copy.replace(the_lake.warehouse)  # same bytes and mtime, another inode
    assert cli.main(["--data-dir", str(built), "build"]) == 0
    assert opened == ["build.duckdb"]
    assert marker.stat().st_mtime_ns == before  # it opened, so nothing to rebuild


def test_raw_is_enough(built: Path) -> None:
    """Delete staged/, warehouse/ and reporting/; rebuilding from raw/ gives the same warehouse."""
    before = _fct_hash(built)
    for zone in ("staged", "warehouse", "reporting"):
        shutil.rmtree(built / zone)
    assert cli.main(["--data-dir", str(built), "rebuild"]) == 0
    assert _fct_hash(built) == before


def test_an_import_runs_dbt_from_a_process_without_data_libraries(
    built: Path, export_fixtures: Path
) -> None:
    """`import` parses and stages in a child that exits before dbt starts, and leaves the
    build's inputs ready (staging memo, listeners, placeholders, lookup content): the command's
    own process then runs dbt with neither Arrow, Polars nor DuckDB loaded beside it (they were
    ~65 MB of its ~115 MB there at 1M plays, in a 400 MB container)."""
    new_file = export_fixtures / "efrrowini_Streaming_History_Audio_2023_first20.json"
    code = (
        "import sys\n"
        "from pipeline.warehouse import dbt_process\n"
        "heavy = ('pyarrow', 'polars', 'duckdb')\n"
        "real = dbt_process.watch\n"
        "def watch(*args, **kwargs):\n"
        "    print('AT DBT', *[m for m in heavy if m in sys.modules], flush=True)\n"
        "    return real(*args, **kwargs)\n"
        "dbt_process.watch = watch\n"
        "from pipeline.cli import main\n"
        f"sys.exit(main(['--data-dir', {str(built)!r}, 'import', {str(new_file)!r}]))\n"
    )
    before = _fct_hash(built)[0]
    assert _python_lines(code, built, "AT DBT") == ["AT DBT"]
    assert _fct_hash(built)[0] == before + 20  # the build ran on the new plays


def test_an_edited_project_is_built_once_without_new_data(built: Path, tmp_path: Path) -> None:
    """After an upgrade (or an edited model) with nothing new staged, the next `build` runs
    dbt over every model instead of finding nothing to do, and the one after is a no-op.
    Before, the build stayed "complete" until new plays arrived: `rebuild` or `build` right
    after an upgrade changed nothing."""
    lake_dir = tmp_path / "data"
    shutil.copytree(built, lake_dir, symlinks=True)
    project = tmp_path / "dbt_project"
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target*", "logs"))
    env = {
        **os.environ,
        "MUSIC_TRACKER_ENV": "testing",
        "MUSIC_TRACKER__PATHS__DATA_DIR": str(lake_dir),
        "MUSIC_TRACKER__PATHS__DBT_PROJECT_DIR": str(project),
    }
    build = [sys.executable, "-m", "pipeline.cli", "--data-dir", str(lake_dir), "build"]
    runs = lake_dir / "staged" / "dbt_runs"

    def sequence() -> int:
        found = latest_marker(runs, "run_results.json")
        assert found is not None
        return int(found[1]["sequence"])

    before = sequence()
    done = subprocess.run(build, env=env, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sequence() == before  # the same project, copied: nothing to do

    model = project / "models" / "marts" / "core" / "dim_track.sql"
    model.write_text(model.read_text(encoding="utf-8") + "\n-- edited\n", encoding="utf-8")
    done = subprocess.run(build, env=env, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sequence() == before + 1
    found = latest_marker(runs, "run_results.json")
    assert found is not None
    ran = {r["unique_id"] for r in found[1]["results"]}
    # Every model: the edited one and the staging model nothing edited reaches.
    assert {"model.music_tracker.dim_track", "model.music_tracker.stg_spotify__plays"} <= ran

    done = subprocess.run(build, env=env, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sequence() == before + 1
