"""No hostile input stops the pipeline: each is quarantined with its reason, the rest lands.

Table-driven over ``corpus.CASES``. Each case is imported beside a real export sample (the
2023 extended-history file), through the real Luigi tasks, and the test checks what a user
sees: the import succeeds, the hostile part is a quarantine row naming why, the valid rows of
the same file and of the other file are staged, and the report calls nothing a duplicate.
One slow test runs the whole corpus through ``music-tracker import``/``rebuild`` with dbt.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import duckdb
import pytest

from pipeline import cli, settings
from pipeline.ingest.units import unit_id
from pipeline.paths import Lake, lake
from pipeline.summary import NO_EXPORT_EXIT, import_report
from pipeline.tasks import ImportExports, StageAllPlays
from tests.conftest import run_luigi
from tests.hostile.corpus import CASES, Case

REAL = "efrrowini_Streaming_History_Audio_2023_first20.json"
REAL_PLAYS = 20


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every hostile file, made once (the 1 GB zip bomb takes a few seconds to deflate)."""
    root = tmp_path_factory.mktemp("hostile")
    made: dict[str, Path] = {}
    for case in CASES:
        folder = root / case.id
        folder.mkdir()
        path = folder / case.name
        case.make(path)
        made[case.id] = path
    return made


def _staged_by_file(account: str = "me") -> dict[str, int]:
    files = list(lake().plays_dir.glob("date=*/*.parquet"))
    if not files:
        return {}
    rows = (
        duckdb.connect()
        .execute(
            "select source_file, count(*) from read_parquet(?) where account = ? group by 1",
            [[str(f) for f in files], account],
        )
        .fetchall()
    )
    return {str(name): int(n) for name, n in rows}


def _reasons(path: Path) -> list[str]:
    qfile = lake().import_quarantine(unit_id(path, "me"))
    if not qfile.exists():
        return []
    rows = duckdb.connect().execute("select reason from read_parquet(?)", [str(qfile)]).fetchall()
    return [str(r[0]) for r in rows]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_quarantined_and_the_rest_lands(
    case: Case, corpus: dict[str, Path], data_dir: Path, export_fixtures: Path, tmp_path: Path
) -> None:
    """The import succeeds; the bad part is quarantined with its reason; valid rows land."""
    hostile = corpus[case.id]
    real = tmp_path / "Streaming_History_Audio_2023_0.json"
    shutil.copy(export_fixtures / REAL, real)
    assert run_luigi([ImportExports(files=(str(hostile), str(real)), account="me")])
    assert run_luigi([StageAllPlays()])

    reasons = _reasons(hostile)
    if case.reason is None:
        assert reasons == []
    else:
        assert any(case.reason in r for r in reasons), reasons
    staged = _staged_by_file()
    from_case = sum(n for name, n in staged.items() if name.startswith(hostile.name))
    assert from_case == case.landed
    assert staged[real.name] == REAL_PLAYS, "the other file of the same import landed"

    reports = {Path(r.file).name: r for r in import_report([hostile, real], "me")}
    assert reports[hostile.name].imported == case.landed
    assert reports[hostile.name].duplicates == 0, "nothing is called a duplicate that is not"
    assert reports[hostile.name].no_export is case.no_export
    assert not reports[real.name].no_export


def test_raw_copies_are_private(corpus: dict[str, Path], data_dir: Path) -> None:
    """Raw export copies (an IP address on every row) are 0600, even from a 0644 source."""
    source = corpus["bom"]
    os.chmod(source, 0o644)
    assert run_luigi([ImportExports(files=(str(source),), account="me")])
    copies = list((data_dir / "raw" / "exports").glob("*/*.json"))
    assert copies and all(stat.S_IMODE(c.stat().st_mode) == 0o600 for c in copies)
    assert not list((data_dir / "raw" / "exports").glob("*-luigi-tmp-*"))


def test_duplicate_report_needs_the_play_in_staged_data(
    corpus: dict[str, Path], data_dir: Path, export_fixtures: Path, tmp_path: Path
) -> None:
    """Before staging, parsed plays are 'not staged', never 'duplicate'; re-import: duplicates."""
    real = tmp_path / "Streaming_History_Audio_2023_0.json"
    shutil.copy(export_fixtures / REAL, real)
    other = corpus["bom"]
    assert run_luigi([ImportExports(files=(str(other),), account="me")])
    assert run_luigi([StageAllPlays()])
    assert run_luigi([ImportExports(files=(str(real),), account="me")])  # not staged yet
    (report,) = import_report([real], "me")
    assert (report.imported, report.duplicates, report.not_staged) == (0, 0, REAL_PLAYS)
    copy = tmp_path / "copy" / "Streaming_History_Audio_2023_9.json"
    copy.parent.mkdir()
    copy.write_bytes(real.read_bytes() + b"\n")  # other bytes, the same plays
    assert run_luigi([ImportExports(files=(str(copy),), account="me")])
    assert run_luigi([StageAllPlays()])
    (first, second) = import_report([real, copy], "me")
    assert (first.imported, first.duplicates) == (REAL_PLAYS, 0)
    assert (second.imported, second.duplicates, second.not_staged) == (0, REAL_PLAYS, 0)


@pytest.mark.slow
def test_the_whole_corpus_imports_builds_and_rebuilds(
    corpus: dict[str, Path], tmp_path: Path, export_fixtures: Path
) -> None:
    """`import` of every hostile file exits 0 and dbt builds; an archive without an export
    exits non-zero; `rebuild` from raw/ (hostile copies included) exits 0."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    for case in CASES:
        if not case.no_export:
            (folder / case.id).mkdir()  # Spotify's names, so the folder scan finds them
            shutil.copy(corpus[case.id], folder / case.id / case.name)
    shutil.copy(export_fixtures / REAL, folder / "Streaming_History_Audio_2023_0.json")
    lake_dir = tmp_path / "data"
    mp = pytest.MonkeyPatch()
    mp.setenv("MUSIC_TRACKER_ENV", "testing")
    mp.setenv("MUSIC_TRACKER__PATHS__DATA_DIR", str(lake_dir))
    settings.reload_settings()
    try:
        assert cli.main(["--data-dir", str(lake_dir), "import", str(folder)]) == 0
        fct = Lake(lake_dir).reporting_mart_dir("fct_plays") / "*.parquet"
        units = lake_dir / "staged" / "imports" / "v1" / "*.parquet"
        con = duckdb.connect()
        (parsed,) = con.execute(
            "select count(distinct play_id) from read_parquet(?)", [str(units)]
        ).fetchone() or (0,)
        # The valid rows of the corpus (the same good rows recur across cases: one play each)
        # plus the real file's 20: good_row 0, 1, 10, 11, the account-data row, and the two
        # plays without a title (track_without_name, local_file_without_name).
        assert parsed == REAL_PLAYS + 7
        (published,) = con.execute(
            "select count(*) from read_parquet(?)", [str(fct)]
        ).fetchone() or (0,)
        assert published == parsed, "every valid row of every hostile file reached the marts"
        no_export = corpus["zip_no_export"]
        assert cli.main(["--data-dir", str(lake_dir), "import", str(no_export)]) == NO_EXPORT_EXIT
        assert cli.main(["--data-dir", str(lake_dir), "rebuild"]) == 0
        (rebuilt,) = con.execute("select count(*) from read_parquet(?)", [str(fct)]).fetchone() or (
            0,
        )
        assert rebuilt == published
    finally:
        mp.undo()
        settings.reload_settings()
