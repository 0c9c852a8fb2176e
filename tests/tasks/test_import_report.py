"""The import report's duplicates: the same play from another source counts as one.

A household that imports its account-data file (names and a minute) beside its extended
history holds every play twice; staging keeps the extended rows (dedupe rule 3), and the report
must call each account-data row a duplicate (its play is staged, from the richer file), and
the extended rows kept.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from pipeline.summary import import_report
from pipeline.tasks import ImportExports, StageAllPlays
from tests.conftest import run_luigi

EXTENDED = "efrrowini_Streaming_History_Audio_2023_first20.json"


def _account_data_copy(extended: Path, out: Path) -> int:
    """The extended rows as Spotify's account-data file writes them: end minute and names."""
    rows = []
    for row in json.loads(extended.read_text(encoding="utf-8")):
        ended = dt.datetime.fromisoformat(row["ts"].replace("Z", "+00:00"))
        rows.append(
            {
                "endTime": ended.strftime("%Y-%m-%d %H:%M"),
                "artistName": row["master_metadata_album_artist_name"],
                "trackName": row["master_metadata_track_name"],
                "msPlayed": row["ms_played"],
            }
        )
    out.write_text(json.dumps(rows), encoding="utf-8")
    return len({(r["endTime"], r["artistName"], r["trackName"]) for r in rows})


def test_account_data_rows_of_staged_extended_plays_are_duplicates(
    data_dir: Path, export_fixtures: Path, tmp_path: Path
) -> None:
    extended = tmp_path / "Streaming_History_Audio_2023_0.json"
    extended.write_bytes((export_fixtures / EXTENDED).read_bytes())
    account_data = tmp_path / "StreamingHistory_music_0.json"
    plays = _account_data_copy(extended, account_data)

    assert run_luigi([ImportExports(files=(str(extended),), account="me")])
    assert run_luigi([StageAllPlays()])
    assert run_luigi([ImportExports(files=(str(account_data),), account="me")])
    (before,) = import_report([account_data], "me")  # not staged itself, its plays are
    assert (before.imported, before.duplicates, before.not_staged) == (0, plays, 0)

    assert run_luigi([StageAllPlays()])
    first, second = import_report([extended, account_data], "me")
    assert (first.imported, first.duplicates, first.not_staged) == (20, 0, 0)
    assert (second.imported, second.duplicates, second.not_staged) == (0, plays, 0)
