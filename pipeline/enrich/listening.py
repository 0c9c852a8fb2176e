"""Listening per track over every staged play, kept between runs: a cycle reads only new days.

Ranking what to look up needs every music play's track and duration. Scanning the ~3,650 daily
partitions of 1M plays took 1-3 s of every 30-minute cycle, to add one day's few plays. The
sums are kept in ``state/track_stats.parquet``:

- one row per track (or artist name, for plays without a track ID) for the days before
  ``folded_before``, summed once;
- one row per track and day from ``folded_before`` on (``RECENT_DAYS`` before the latest day);
- in its metadata, the fingerprint of the partitions the rows were read from (``fingerprint``).

A changed partition from ``folded_before`` on (a poll's day) is read again alone, its old rows
replaced; a change before it (an import of old history) reads every partition again, as does a
missing, unreadable or older file: it is derived state, safe to delete.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.io.duck import connect
from pipeline.io.markers import changed_days, fingerprint
from pipeline.io.parquet import read_provenance, write_parquet_atomic
from pipeline.paths import Lake

#: Days before the latest day kept one row per day, so a late poll or a restaged recent day
#: is read again alone; older days are summed into one row per track.
RECENT_DAYS = 7
#: Bumped when the kept file's meaning changes: an older file is then read again in full.
VERSION = 2

#: One row per (track, played, ms, plays): the ranking ``candidates.track_stats`` returns.
Listening = tuple[str | None, str | None, int, int]

SCHEMA = pa.schema(
    [
        ("day", pa.date32()),
        ("track_id", pa.string()),
        ("name_key", pa.string()),
        ("artist_name", pa.string()),
        ("ms", pa.int64()),
        ("plays", pa.int64()),
    ]
)

# Days before $before are summed per track already here (day null): one row per track and day
# over ten years would be ~1M groups, where one per track is ~40k.
_PER_DAY = """
select case when cast(date as date) >= $before then cast(date as date) end as day, track_id,
    case when track_id is null then artist_name end as name_key,
    min(artist_name) as artist_name, sum(ms_played)::bigint as ms, count(*)::bigint as plays
from read_parquet($files, hive_partitioning = true)
where content_type = 'music' and (track_id is not null or artist_name is not null)
group by all
"""

# Days before $before become one row per track (day null).
_FOLD = """
select case when day >= $before then day end as day, track_id, name_key,
    min(artist_name) as artist_name, sum(ms)::bigint as ms, sum(plays)::bigint as plays
from kept
group by all
"""

_TOTALS = """
select track_id, min(artist_name), sum(ms)::bigint, sum(plays)::bigint
from kept
group by track_id, name_key
order by 3 desc, 4 desc, 1, 2
"""


def stats_file(lake: Lake) -> Path:
    """Where the kept sums live (state: derived, safe to delete)."""
    return lake.state / "track_stats.parquet"


def _load(lake: Lake) -> tuple[pa.Table, dict[str, Any]] | None:
    """The kept rows and what they were read from, if the file is there and readable."""
    import pyarrow.parquet as pq

    path = stats_file(lake)
    prov = read_provenance(path) if path.exists() else None
    if not prov or prov.get("version") != VERSION:
        return None
    try:
        return pq.read_table(path).cast(SCHEMA), prov
    except (OSError, ValueError, pa.ArrowException):
        return None


def _per_day(con: Any, lake: Lake, days: list[dt.date], before: dt.date) -> pa.Table:
    """The sums per track and day of these days' partitions (per track before ``before``)."""
    files = [str(p) for d in days for p in sorted(lake.plays_partition(d).parent.glob("*.parquet"))]
    if not files:
        return SCHEMA.empty_table()
    params = {"files": files, "before": before}
    return con.sql(_PER_DAY, params=params).to_arrow_table().cast(SCHEMA)


def _changed_days(prov: dict[str, Any], now: dict[str, str]) -> list[dt.date] | None:
    """The days whose partitions changed since ``prov`` was kept; None when one of them is
    before its ``folded_before`` (its old rows are summed with others and cannot be replaced)."""
    changed = changed_days(prov.get("plays", {}), now)
    folded = dt.date.fromisoformat(prov["folded_before"])
    return None if changed is None or any(d < folded for d in changed) else changed


def listening(lake: Lake, prints: dict[str, str] | None = None) -> list[Listening]:
    """(track_id, artist_name, ms, plays) of every music track played, most listened first.

    Tracks without an ID are grouped by artist name. Only the partitions changed since the
    kept sums were written are read; the new sums are kept. ``prints`` is the plays' current
    ``fingerprint``, when the caller has it already.
    """
    if prints is None:
        prints = fingerprint(lake.plays_dir)
    now = {key: value for key, value in prints.items() if key.startswith("date=")}
    days = sorted(dt.date.fromisoformat(key.removeprefix("date=")) for key in now)
    if not days:
        return []
    loaded = _load(lake)
    con = connect()
    try:
        if loaded is not None and loaded[1].get("plays") == now:
            con.register("kept", loaded[0])
            return _totals(con)
        folded = days[-1] - dt.timedelta(days=RECENT_DAYS)
        changed = _changed_days(loaded[1], now) if loaded is not None else None
        if loaded is None or changed is None:  # every partition again
            table = _per_day(con, lake, days, folded)
        else:
            folded = max(folded, dt.date.fromisoformat(loaded[1]["folded_before"]))
            con.register("previous", loaded[0])
            unchanged = con.sql(
                "select * from previous where day is null or not list_contains($days, day)",
                params={"days": changed},
            ).to_arrow_table()
            fresh = _per_day(con, lake, [d for d in changed if d in days], dt.date.min)
            table = pa.concat_tables([unchanged.cast(SCHEMA), fresh])
        con.register("kept", table)
        table = con.sql(_FOLD, params={"before": folded}).to_arrow_table().cast(SCHEMA)
        write_parquet_atomic(
            stats_file(lake),
            table,
            {"version": VERSION, "plays": now, "folded_before": folded.isoformat()},
        )
        con.register("kept", table)
        return _totals(con)
    finally:
        con.close()


def _totals(con: Any) -> list[Listening]:
    """The kept rows summed per track, most listened first."""
    return [(r[0], r[1], int(r[2] or 0), int(r[3])) for r in con.execute(_TOTALS).fetchall()]
