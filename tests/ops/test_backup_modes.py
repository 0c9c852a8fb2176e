"""A backup is private: 0700 folders and 0600 files, whatever the source's modes or the umask."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from pipeline.ops.backup import make_backup, verify
from pipeline.paths import Lake


def test_every_folder_is_0700_and_every_file_0600(tmp_path: Path) -> None:
    the_lake = Lake(tmp_path / "data")
    sources = {
        the_lake.raw / "exports/me/Streaming_History_Audio_2024_0.json": 0o644,
        the_lake.state / "tokens/me.token.json": 0o600,
        the_lake.state / "enrichment/state.duckdb": 0o664,
        the_lake.staged / "lookups/geo_places/v1/date=2026-12-01/part-0.parquet": 0o644,
    }
    for path, mode in sources.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o755)
        path.write_bytes(b"{}")
        os.chmod(path, mode)
    old_umask = os.umask(0o022)
    try:
        made = make_backup(the_lake, tmp_path / "backups", dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
    finally:
        os.umask(old_umask)

    assert made.files == len(sources)
    folders = [made.path, *(p for p in made.path.rglob("*") if p.is_dir())]
    files = [p for p in made.path.rglob("*") if p.is_file()]
    assert made.path / "data/state/tokens" in folders
    assert {p: oct(p.stat().st_mode & 0o777) for p in folders} == {p: "0o700" for p in folders}
    assert {p: oct(p.stat().st_mode & 0o777) for p in files} == {p: "0o600" for p in files}
    assert len(files) == len(sources) + 1  # and MANIFEST.json
    assert verify(made.path) == []


def test_verify_names_what_it_cannot_check(tmp_path: Path) -> None:
    """`backup --verify` on the wrong folder or a damaged manifest says so instead of crashing:
    DEST given for DEST/music-tracker-<time>/ names the backups in it."""
    the_lake = Lake(tmp_path / "data")
    kept = the_lake.raw / "exports/me/Streaming_History_Audio_2024_0.json"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"[]")
    dest = tmp_path / "backups"
    made = make_backup(the_lake, dest, dt.datetime(2026, 12, 2, tzinfo=dt.UTC))

    assert verify(dest) == [
        f"{dest}: no MANIFEST.json, not a backup folder; the backups in it: {made.path.name}"
    ]
    manifest = made.path / "MANIFEST.json"
    for body in ('{"files": {"raw', "null", '{"files": ["raw"]}'):
        manifest.write_text(body, encoding="utf-8")
        (problem,) = verify(made.path)
        assert problem.startswith("MANIFEST.json: ") and "cannot be checked" in problem
    manifest.write_text('{"files": {"raw/x.json": 3}}', encoding="utf-8")
    assert verify(made.path) == ["raw/x.json: damaged manifest entry"]
