"""Import and staging through real Luigi tasks: partitions, idempotence, bad files, kills."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import schemas
from pipeline.io.parquet import write_parquet_atomic
from pipeline.paths import lake
from pipeline.tasks import ImportExport, ImportExports, StageAllPlays, StagePlays
from tests.conftest import REPO, run_luigi

# Each real sample under the name Spotify gives such a file inside its export.
SPOTIFY_NAMES = {
    "averydata_StreamingHistory0_first40.json": "StreamingHistory0.json",
    "candidlyred_endsong_first24.json": "endsong_0.json",
    "efrrowini_Streaming_History_Audio_2023_first20.json": "Streaming_History_Audio_2023_0.json",
    "hl105_StreamingHistory_music_0_first60.json": "StreamingHistory_music_0.json",
}
SAMPLES = {
    "averydata_StreamingHistory0_first40.json": 40,
    "candidlyred_endsong_first24.json": 24,
    "efrrowini_Streaming_History_Audio_2023_first20.json": 20,
    "hl105_StreamingHistory_music_0_first60.json": 60,
}


def _staged_rows(data_dir: Path) -> list[dict]:
    files = sorted(lake().plays_dir.glob("date=*/*.parquet"))
    if not files:
        return []
    con = duckdb.connect()
    rel = con.execute(
        "select * from read_parquet(?, hive_partitioning = true) order by play_id",
        [[str(f) for f in files]],
    )
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, row, strict=True)) for row in rel.fetchall()]


def _import(paths: list[Path], account: str = "me") -> None:
    tasks = [ImportExport(file=str(p), account=account) for p in paths]
    assert run_luigi(tasks)
    assert run_luigi([StageAllPlays()])


def test_every_real_sample_imports(data_dir: Path, export_fixtures: Path) -> None:
    """All four real export samples land in dated partitions with the expected play counts."""
    _import(sorted(export_fixtures.glob("*.json")))
    rows = _staged_rows(data_dir)
    per_file: dict[str, int] = {}
    for row in rows:
        per_file[row["source_file"]] = per_file.get(row["source_file"], 0) + 1
    assert per_file == SAMPLES
    for row in rows:
        assert str(row["date"]) == row["played_at"].astimezone(dt.UTC).date().isoformat()
    # Raw bytes are kept exactly as received.
    raws = {p.name: p.read_bytes() for p in (data_dir / "raw" / "exports").glob("*/*.json")}
    for name in SAMPLES:
        assert raws[name] == (export_fixtures / name).read_bytes()


def test_reimport_changes_nothing(data_dir: Path, export_fixtures: Path) -> None:
    """Importing the same files twice leaves identical partitions (same bytes, same mtimes)."""
    files = sorted(export_fixtures.glob("*.json"))
    _import(files)
    before = {
        p: (p.stat().st_mtime_ns, p.read_bytes()) for p in lake().plays_dir.rglob("*.parquet")
    }
    _import(files)
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in lake().plays_dir.rglob("*.parquet")}
    assert before == after


def test_batch_import_equals_one_file_at_a_time(data_dir: Path, export_fixtures: Path) -> None:
    """`music-tracker import`'s batch (files parsed side by side) lands the same units."""
    files = sorted(export_fixtures.glob("*.json"))
    _import(files)
    singles = {p.name: p.read_bytes() for p in lake().import_units_dir.rglob("*.parquet")}
    staged = _staged_rows(data_dir)
    shutil.rmtree(lake().staged)
    batch = ImportExports(files=tuple(str(p) for p in files), account="me")
    assert not batch.complete()
    assert run_luigi([batch])
    assert run_luigi([StageAllPlays()])
    assert {p.name: p.read_bytes() for p in lake().import_units_dir.rglob("*.parquet")} == singles
    assert _staged_rows(data_dir) == staged
    assert batch.complete()


def test_batch_import_keeps_the_good_files_and_names_the_bad_one(
    data_dir: Path, export_fixtures: Path, tmp_path: Path
) -> None:
    """A file that cannot be read fails the batch by name; every other file is imported."""
    files = sorted(export_fixtures.glob("*.json"))
    gone = tmp_path / "vanished.json"  # listed, then gone before it was read
    batch = ImportExports(files=(*map(str, files), str(gone)), account="me")
    with pytest.raises(RuntimeError, match=r"1 of 5 files failed: vanished\.json"):
        batch.run()
    assert all(ImportExport(file=str(p), account="me").complete() for p in files)
    assert not batch.complete()


def test_zip_as_spotify_sends_it(data_dir: Path, export_fixtures: Path, tmp_path: Path) -> None:
    """A .zip with the files in a folder imports the same plays as the loose files."""
    archive = tmp_path / "my_spotify_data.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in SAMPLES:
            zf.write(export_fixtures / name, f"Spotify Data/{SPOTIFY_NAMES[name]}")
        zf.writestr("Spotify Data/ReadMeFirst.pdf", b"%PDF")
        zf.writestr("Spotify Data/Userdata.json", b"{}")
    _import([archive])
    rows = _staged_rows(data_dir)
    assert len(rows) == sum(SAMPLES.values())
    assert all(r["source_file"].startswith("my_spotify_data.zip/") for r in rows)


def test_same_play_in_two_exports_is_stored_once(data_dir: Path, tmp_path: Path) -> None:
    """The account-data and extended rows of one play (and a re-sent file) give one play."""
    extended = [
        {
            "ts": "2023-02-25T11:20:37Z",
            "ms_played": 61839,
            "master_metadata_track_name": "Forever",
            "master_metadata_album_artist_name": "Labrinth",
            "master_metadata_album_album_name": "Euphoria",
            "spotify_track_uri": "spotify:track:6potEImiklXkwD9qFzpu15",
        }
    ]
    account = [
        {
            "endTime": "2023-02-25 11:20",
            "artistName": "Labrinth",
            "trackName": "Forever",
            "msPlayed": 61839,
        }
    ]
    (tmp_path / "Streaming_History_Audio_2023.json").write_text(json.dumps(extended))
    (tmp_path / "StreamingHistory_music_0.json").write_text(json.dumps(account))
    (tmp_path / "StreamingHistory0.json").write_text(json.dumps(account))
    _import(sorted(tmp_path.glob("*.json")))
    rows = _staged_rows(data_dir)
    assert [(r["source"], r["track_id"]) for r in rows] == [
        ("export_extended", "6potEImiklXkwD9qFzpu15")
    ]


def test_bad_files_are_quarantined_and_good_ones_kept(
    data_dir: Path, export_fixtures: Path, tmp_path: Path
) -> None:
    """A truncated file and a wrong-shaped file are reported by name; the rest still import."""
    good = export_fixtures / "candidlyred_endsong_first24.json"
    truncated = tmp_path / "endsong_1.json"
    truncated.write_bytes(good.read_bytes()[:3000])
    wrong = tmp_path / "StreamingHistory1.json"
    wrong.write_text(json.dumps({"not": "a list"}))
    _import([truncated, wrong, good])
    assert len(_staged_rows(data_dir)) == 24
    con = duckdb.connect()
    reasons = dict(
        con.execute(
            "select source_file, reason from read_parquet(?)",
            [str(data_dir / "staged" / "quarantine" / "source=export" / "*.parquet")],
        ).fetchall()
    )
    assert "not valid JSON" in reasons["endsong_1.json"]
    assert "expected a JSON list" in reasons["StreamingHistory1.json"]


def _poll_play(day: dt.date) -> dict:
    """A play a poll brings for ``day`` (at 23:00 UTC), shaped as the day's first staged play."""
    row = pq.read_table(lake().plays_partition(day)).slice(0, 1).to_pylist()[0]
    row.update(
        play_id="poll-play-1",
        source="api",
        ts_precision="ms",
        source_file="poll-1",
        track_id="0000000000000000000001",
        played_at=dt.datetime.combine(day, dt.time(23, 0), tzinfo=dt.UTC),
    )
    return row


def _poll(day: dt.date, name: str, row: dict) -> None:
    """A poll file for ``day`` holding one play, as ingestion writes it."""
    path = lake().polls_dir / "account=me" / f"date={day.isoformat()}" / f"{name}.parquet"
    write_parquet_atomic(path, pa.Table.from_pylist([row], schema=schemas.PLAYS))


def test_new_input_makes_a_day_stale(data_dir: Path, export_fixtures: Path) -> None:
    """A poll landing new plays for a staged day makes StagePlays(day) incomplete, then rebuilt."""
    _import([export_fixtures / "efrrowini_Streaming_History_Audio_2023_first20.json"])
    day = dt.date(2023, 2, 25)
    assert StagePlays(date=day).complete()
    existing = pq.read_table(lake().plays_partition(day))
    _poll(day, "poll-1", _poll_play(day))
    assert not StagePlays(date=day).complete()
    assert run_luigi([StagePlays(date=day)])
    assert pq.read_table(lake().plays_partition(day)).num_rows == existing.num_rows + 1


def test_a_poll_checks_only_its_day_unless_it_names_a_new_podcast_show(
    data_dir: Path, export_fixtures: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 30-minute cycle's staging check reads the partitions of the days whose files changed
    (the poll's day), not all of them (~3,650 Parquet footers at 1M plays, ~2 s); a poll that
    names a new podcast show checks every day, because the show turns the old account-data
    plays of it (parsed as music) into podcast plays."""
    from pipeline.staging import memo

    _import([export_fixtures / "averydata_StreamingHistory0_first40.json"])
    assert StageAllPlays().complete()
    checked: list[dt.date] = []
    real = memo.partition_is_current

    def counted(the_lake, day, *args):  # type: ignore[no-untyped-def]
        checked.append(day)
        return real(the_lake, day, *args)

    monkeypatch.setattr(memo, "partition_is_current", counted)
    day = dt.date(2021, 3, 10)
    row = _poll_play(day)
    _poll(day, "poll-1", row)
    assert not StageAllPlays().complete()
    assert checked == [day]
    assert run_luigi([StagePlays(date=day)])
    checked.clear()
    assert StageAllPlays().complete() and checked == [day]
    checked.clear()
    assert StageAllPlays().complete() and checked == []  # remembered: stat only

    show = "Binge Mode: Marvel"  # played on 2021-01-09, in account data that reads as music
    _poll(
        day,
        "poll-2",
        dict(
            row,
            play_id="poll-play-2",
            source_file="poll-2",
            content_type="podcast",
            track_id=None,
            track_name=None,
            artist_name=None,
            episode_name="Episode 12",
            show_name=show,
            played_at=dt.datetime(2021, 3, 10, 23, 30, tzinfo=dt.UTC),
        ),
    )
    assert not StageAllPlays().complete()
    assert checked[0] < day  # an earlier day than the poll's, stale by the new show
    assert run_luigi([StageAllPlays()])
    older = [r for r in _staged_rows(data_dir) if r["played_at"].date() == dt.date(2021, 1, 9)]
    assert {(r["content_type"], r["show_name"]) for r in older} == {("podcast", show)}


def test_an_input_rewritten_under_its_name_makes_its_days_stale(
    data_dir: Path, export_fixtures: Path
) -> None:
    """A unit's name comes from its export file, so a unit written again (redone after damage,
    or by a newer parser) keeps it: the day's partition records the fingerprint of its inputs,
    not their names, and is staged again from the rewritten unit."""
    _import([export_fixtures / "efrrowini_Streaming_History_Audio_2023_first20.json"])
    day = dt.date(2023, 2, 25)
    assert StagePlays(date=day).complete()
    (unit,) = sorted(lake().import_units_dir.glob("*.parquet"))
    table = pq.read_table(unit)
    kept = table.schema.metadata
    days = pa.compute.cast(table["played_at"], pa.date32())
    fewer = table.filter(pa.compute.not_equal(days, day))
    pq.write_table(fewer.replace_schema_metadata(kept), unit)  # same name, other content
    assert not StagePlays(date=day).complete()
    assert run_luigi([StagePlays(date=day)])
    assert pq.read_table(lake().plays_partition(day)).num_rows == 0
    assert StagePlays(date=day).complete()


def test_failed_write_leaves_old_partition_and_no_temp(
    data_dir: Path, export_fixtures: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that dies midway leaves the previous partition intact and no temp files."""
    _import([export_fixtures / "efrrowini_Streaming_History_Audio_2023_first20.json"])
    day = dt.date(2023, 2, 25)
    target = lake().plays_partition(day)
    before = target.read_bytes()
    real_write = pq.write_table

    def dying_write(table, where, **kw):  # type: ignore[no-untyped-def]
        real_write(table.slice(0, 1), where, **kw)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", dying_write)
    from pipeline.staging.inputs import inputs_by_date
    from pipeline.staging.partitions import StagingWriteError, stage_days

    with pytest.raises(StagingWriteError, match="No space left.*previous version .* is kept"):
        stage_days(lake(), [day], inputs_by_date(lake()))
    assert target.read_bytes() == before
    assert not [p for p in lake().root.rglob("*") if "-luigi-tmp-" in p.name]
    monkeypatch.setattr(pq, "write_table", real_write)
    stage_days(lake(), [day], inputs_by_date(lake()))
    assert target.read_bytes() == before


def _luigi_cli(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MUSIC_TRACKER__PATHS__DATA_DIR=str(data_dir))
    luigi = Path(sys.executable).with_name("luigi")
    return subprocess.run(
        [str(luigi), "--module", "pipeline.tasks", *args, "--local-scheduler"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_luigi_cli_reruns_a_day_and_backfills_a_range(
    data_dir: Path, export_fixtures: Path
) -> None:
    """`luigi --module pipeline.tasks StagePlays --date D` and RangeDaily work from the shell."""
    f = export_fixtures / "candidlyred_endsong_first24.json"
    proc = _luigi_cli(["ImportExport", "--file", str(f), "--account", "me"], data_dir)
    assert proc.returncode == 0, proc.stderr
    shutil.rmtree(lake().plays_dir, ignore_errors=True)
    proc = _luigi_cli(["StagePlays", "--date", "2022-09-07"], data_dir)
    assert proc.returncode == 0, proc.stderr
    assert lake().plays_partition(dt.date(2022, 9, 7)).exists()
    proc = _luigi_cli(
        [
            "RangeDaily",
            "--of",
            "StagePlays",
            "--start",
            "2022-09-01",
            "--stop",
            "2022-09-08",
            "--days-back",
            "3650",
        ],
        data_dir,
    )
    assert proc.returncode == 0, proc.stderr
    days = sorted(p.parent.name for p in lake().plays_dir.glob("date=*/*.parquet"))
    assert days == [f"date=2022-09-0{d}" for d in range(1, 8)]
    assert pq.read_table(lake().plays_partition(dt.date(2022, 9, 3))).num_rows >= 1
