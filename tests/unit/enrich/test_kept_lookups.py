"""Lookups kept within one process: a cycle's three enrichment tasks read each lookup dataset
once while its files are unchanged, see a partition written since at once, and the build drops
what they kept before dbt starts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from pipeline import schemas
from pipeline.enrich import candidates
from pipeline.io.parquet import write_parquet_atomic
from pipeline.paths import lake
from pipeline.transform.spotify_catalogue import missing_row

DAY = dt.date(2026, 3, 1)


def _track(track_id: str, artist: str, at: dt.datetime) -> dict:
    return {
        "track_id": track_id,
        "track_name": f"song {track_id}",
        "isrc": None,
        "album_id": "album1",
        "artist_ids": [artist],
        "artist_names": [f"name of {artist}"],
        "status": "found",
        "source": "spotify_api",
        "fetched_at": at,
    }


def _write(day: dt.date, rows: list[dict]) -> None:
    """One day's partition of track lookups, as an enrichment run writes it."""
    target = lake().dated_partition(candidates.TRACK_LOOKUPS, day)
    write_parquet_atomic(target, pa.Table.from_pylist(rows, schema=schemas.SPOTIFY_TRACKS))


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Which DuckDB scans ran (``latest_found``'s and ``statuses_in_lake``'s)."""
    calls: list[str] = []
    for name in ("_read_latest_found", "_read_statuses"):
        real = getattr(candidates, name)

        def counting(root: Path, key: str, real=real, name=name) -> object:
            calls.append(name)
            return real(root, key)

        monkeypatch.setattr(candidates, name, counting)
    candidates.forget_kept()
    return calls


def _artists(meta: dict[str, candidates.TrackMeta]) -> dict[str, list[str]]:
    return {track: [a for a, _ in m.artists] for track, m in meta.items()}


def test_each_lookup_is_read_once_while_its_files_are_unchanged(
    data_dir: Path, reads: list[str]
) -> None:
    at = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    _write(DAY, [_track("t1", "a1", at), missing_row("track_id", "t2", "failed", "x", at)])
    for _ in range(3):
        assert _artists(candidates.track_metadata(lake())) == {"t1": ["a1"]}
        statuses = candidates.statuses_in_lake(lake(), candidates.TRACK_LOOKUPS, "track_id")
        assert statuses == {"t1": {"found"}, "t2": {"failed"}}
    assert sorted(reads) == ["_read_latest_found", "_read_statuses"]

    # A caller adding to the credits (the catalogue run adds what it fetched) changes no
    # later answer.
    candidates.track_metadata(lake())["t9"] = candidates.TrackMeta([("a9", "")], None, None)
    assert _artists(candidates.track_metadata(lake())) == {"t1": ["a1"]}

    # A newer answer for t1 and one for t2 land in the next day's partition: read at once.
    later = at + dt.timedelta(days=1)
    _write(DAY + dt.timedelta(days=1), [_track("t1", "a7", later), _track("t2", "a2", later)])
    assert _artists(candidates.track_metadata(lake())) == {"t1": ["a7"], "t2": ["a2"]}
    statuses = candidates.statuses_in_lake(lake(), candidates.TRACK_LOOKUPS, "track_id")
    assert statuses == {"t1": {"found"}, "t2": {"failed", "found"}}
    assert len(reads) == 4

    candidates.forget_kept()  # what the build does before dbt: the next asking reads again
    assert _artists(candidates.track_metadata(lake())) == {"t1": ["a7"], "t2": ["a2"]}
    assert len(reads) == 5
