"""The listening ranking kept between runs: a poll's day is read alone, and the sums always
equal a scan of every play."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from pipeline import schemas
from pipeline.enrich import listening as mod
from pipeline.io.parquet import write_parquet_atomic
from pipeline.paths import lake

FIRST = dt.date(2026, 1, 1)


def _play(day: dt.date, n: int, track: str | None, artist: str, ms: int, kind: str) -> dict:
    return {
        "play_id": f"{day}-{n}",
        "account": "me",
        "track_id": track,
        "content_type": kind,
        "track_name": f"song {track}",
        "artist_name": artist,
        "source": "api",
        "source_file": "poll",
        "ts_precision": "ms",
        "ms_played": ms,
        "source_row": n,
        "is_local": False,
        "played_at": dt.datetime.combine(day, dt.time(12, n % 60), tzinfo=dt.UTC),
    }


def _stage(day: dt.date, plays: list[dict]) -> None:
    """Write ``day``'s partition as staging does (one file per day)."""
    table = pa.Table.from_pylist(plays, schema=schemas.PLAYS)
    write_parquet_atomic(lake().plays_partition(day), table)


def _day(day: dt.date, extra: int = 0) -> list[dict]:
    """A day of plays: two tracks, a name-only artist, a podcast (not music)."""
    i = (day - FIRST).days
    plays = [
        _play(day, 0, f"t{i % 3}", "Band A", 200_000, "music"),
        _play(day, 1, f"t{(i + 1) % 5}", "Band B", 100_000 + i, "music"),
        _play(day, 2, None, "Local Hero", 50_000, "music"),
        _play(day, 3, None, "A Show", 900_000, "podcast"),
    ]
    plays += [_play(day, 4 + k, "t9", "Band C", 1_000, "music") for k in range(extra)]
    return plays


def _scan() -> list[tuple]:
    """Every play scanned, as the ranking was computed before it was kept."""
    files = sorted(str(p) for p in lake().plays_dir.glob("date=*/*.parquet"))
    rows = duckdb.execute(
        "select track_id, min(artist_name), sum(ms_played), count(*) from read_parquet(?) "
        "where content_type = 'music' and (track_id is not null or artist_name is not null) "
        "group by track_id, case when track_id is null then artist_name end "
        "order by 3 desc, 4 desc, 1, 2",
        [files],
    ).fetchall()
    return [(r[0], r[1], int(r[2]), int(r[3])) for r in rows]


def test_a_poll_day_is_read_alone_and_the_sums_equal_a_full_scan(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thirty days staged; then today gains plays (read alone), an old day is restaged (every
    partition read again), the kept file is damaged (read again): always what a scan gives."""
    days = [FIRST + dt.timedelta(days=i) for i in range(30)]
    for day in days:
        _stage(day, _day(day))
    read: list[list[dt.date]] = []
    real = mod._per_day

    def counted(con, the_lake, which, before):  # type: ignore[no-untyped-def]
        read.append(which)
        return real(con, the_lake, which, before)

    monkeypatch.setattr(mod, "_per_day", counted)
    assert mod.listening(lake()) == _scan()
    assert read == [days]  # the first run reads everything
    read.clear()
    assert mod.listening(lake()) == _scan() and read == []  # nothing changed: nothing read

    _stage(days[-1], _day(days[-1], extra=3))  # a poll adds three plays to today
    tomorrow = days[-1] + dt.timedelta(days=1)
    _stage(tomorrow, _day(tomorrow, extra=1))
    read.clear()
    assert mod.listening(lake()) == _scan()
    assert read == [[days[-1], tomorrow]]

    _stage(days[2], _day(days[2], extra=5))  # an import restages an old day
    read.clear()
    assert mod.listening(lake()) == _scan()
    assert read == [[*days, tomorrow]]

    lake().plays_partition(days[-2]).unlink()  # a recent day emptied
    read.clear()
    assert mod.listening(lake()) == _scan() and read == [[]]

    mod.stats_file(lake()).write_bytes(b"not parquet")
    read.clear()
    assert mod.listening(lake()) == _scan() and len(read[0]) == 30
