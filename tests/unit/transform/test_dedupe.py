"""Deduplication: the same play seen twice (or by two sources) is stored once."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from pipeline import schemas
from pipeline.transform.dedupe import dedupe_plays
from pipeline.transform.keys import content_key, play_id

T0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def _play(
    source: str,
    at: dt.datetime,
    track_id: str | None = "6potEImiklXkwD9qFzpu15",
    account: str = "me",
    artist: str = "Labrinth",
    track: str = "Forever",
    precision: str = "s",
    row: int = 0,
) -> dict:
    ms = int(at.timestamp() * 1000)
    return {
        "play_id": play_id(account, ms, content_key(track_id, None, None, artist, track)),
        "account": account,
        "track_id": track_id,
        "content_type": "music",
        "track_name": track,
        "artist_name": artist,
        "source": source,
        "source_file": f"{source}.json",
        "source_row": row,
        "ts_precision": precision,
        "ms_played": 1000,
        "is_local": False,
        "played_at": at,
    }


def _table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schemas.PLAYS)


def test_exact_duplicates_collapse() -> None:
    """The same play imported twice is one row."""
    result = dedupe_plays(_table([_play("export_extended", T0), _play("export_extended", T0)]))
    assert result.plays.num_rows == 1
    assert result.exact_duplicates == 1


def test_export_and_api_within_window_are_one_play() -> None:
    """Export ts and API played_at 3.4 s apart, same track: one play, the export row kept."""
    api = _play("api", T0 + dt.timedelta(milliseconds=3400), precision="ms")
    result = dedupe_plays(_table([api, _play("export_extended", T0)]), window_s=10)
    assert result.plays.num_rows == 1
    assert result.plays["source"].to_pylist() == ["export_extended"]
    assert result.cross_source_duplicates == 1


def test_repeat_listens_outside_window_are_kept() -> None:
    """The same track played twice, minutes apart, stays two plays."""
    api = _play("api", T0 + dt.timedelta(minutes=4), precision="ms")
    result = dedupe_plays(_table([api, _play("export_extended", T0)]), window_s=10)
    assert result.plays.num_rows == 2


def test_other_account_is_never_merged() -> None:
    """Two listeners playing the same track at the same time are two plays."""
    rows = [_play("export_extended", T0), _play("api", T0, account="partner", precision="ms")]
    assert dedupe_plays(_table(rows)).plays.num_rows == 2


def test_account_data_minute_row_matches_richer_row() -> None:
    """An account-data row (minute precision, names only) merges into the extended row."""
    coarse = _play(
        "export_account",
        T0.replace(second=0),
        track_id=None,
        artist="LABRINTH",
        track="forever",
        precision="min",
    )
    fine = _play("export_extended", T0.replace(second=42))
    result = dedupe_plays(_table([coarse, fine]))
    assert result.plays["source"].to_pylist() == ["export_extended"]


def test_account_data_alone_is_kept() -> None:
    """Without a richer twin, account-data plays are kept as they are."""
    coarse = _play("export_account", T0, track_id=None, precision="min")
    other = _play("export_extended", T0 + dt.timedelta(minutes=5))
    assert dedupe_plays(_table([coarse, other])).plays.num_rows == 2


def test_result_is_deterministic_and_sorted() -> None:
    """Input order does not change the output."""
    rows = [_play("api", T0 + dt.timedelta(minutes=i), precision="ms", row=i) for i in range(5)]
    forward = dedupe_plays(_table(rows)).plays
    backward = dedupe_plays(_table(list(reversed(rows)))).plays
    assert forward.equals(backward)
    assert forward["played_at"].to_pylist() == sorted(forward["played_at"].to_pylist())
