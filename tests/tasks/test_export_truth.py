"""Export truth: names byte for byte, and podcasts in the oldest account-data format.

The real sample ``averydata_StreamingHistory0_first40.json`` (StreamingHistory0.json, before
Spotify split music from podcasts) has 11 plays of "The Joe Rogan Experience" written as
``artistName``/``trackName``. Alone, nothing says they are podcast episodes; once another
file of the same account plays that show as a podcast, its rows become podcast rows.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb

from pipeline.paths import lake
from pipeline.tasks import ImportExports, StageAllPlays
from tests.conftest import run_luigi

OLD = "averydata_StreamingHistory0_first40.json"
SHOW = "The Joe Rogan Experience"


def _staged(sql: str) -> list[tuple]:
    files = [str(f) for f in lake().plays_dir.glob("date=*/*.parquet")]
    return duckdb.connect().execute(sql.format(plays="read_parquet(?)"), [files]).fetchall()


def _import(*paths: Path) -> None:
    assert run_luigi([ImportExports(files=tuple(str(p) for p in paths), account="me")])
    assert run_luigi([StageAllPlays()])


def _podcast_file(tmp_path: Path) -> Path:
    """A StreamingHistory_podcast_0.json (newer account-data shape) naming the same show."""
    path = tmp_path / "StreamingHistory_podcast_0.json"
    rows = [
        {
            "endTime": "2021-05-02 08:00",
            "podcastName": SHOW,
            "episodeName": "#1640 - Another Guest ",
            "msPlayed": 3_600_000,
        }
    ]
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return path


def test_old_account_rows_of_a_known_show_become_podcasts(
    data_dir: Path, export_fixtures: Path, tmp_path: Path
) -> None:
    """With the show known from a podcast file, its old rows are podcast plays, not music."""
    old = tmp_path / "StreamingHistory0.json"
    shutil.copy(export_fixtures / OLD, old)
    _import(old)
    music = "select count(*) from {plays} where artist_name = '" + SHOW + "'"
    assert _staged(music) == [(11,)], "alone, the old file cannot tell"

    _import(_podcast_file(tmp_path))  # a later import restages the old file's days
    assert _staged(music) == [(0,)]
    rows = _staged(
        "select content_type, episode_name, track_name from {plays} "
        f"where show_name = '{SHOW}' and source_file = 'StreamingHistory0.json'"
    )
    assert len(rows) == 11 and {r[0] for r in rows} == {"podcast"}
    assert ("podcast", "#1630 - Dan Crenshaw", None) in rows
    others = _staged("select count(*) from {plays} where content_type = 'music'")
    assert others == [(40 - 11,)], "shows nobody played as a podcast stay what the file says"


def test_names_are_kept_byte_exact(data_dir: Path, tmp_path: Path) -> None:
    """An episode name with a trailing space is stored with it (not stripped)."""
    _import(_podcast_file(tmp_path))
    assert _staged("select episode_name from {plays}") == [("#1640 - Another Guest ",)]
