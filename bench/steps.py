"""Benchmark steps that are not product commands, each runnable as its own measured process.

``python -m bench.steps floor HISTORY OUT``: the floor (DuckDB alone reads the export JSON with
declared columns and writes one deduplicated Parquet file).
``python -m bench.steps land-poll DATA_DIR DATE N SEED``: land N new plays as a poll file.
``python -m bench.steps cards DATA_DIR``: run every dashboard card's SQL, print timings as JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline import schemas
from pipeline.settings import PROJECT_ROOT, get_settings

#: Export fields the floor declares (all the importer reads), with DuckDB types.
FLOOR_COLUMNS = {
    "ts": "VARCHAR",
    "ms_played": "BIGINT",
    "master_metadata_track_name": "VARCHAR",
    "master_metadata_album_artist_name": "VARCHAR",
    "master_metadata_album_album_name": "VARCHAR",
    "spotify_track_uri": "VARCHAR",
    "episode_name": "VARCHAR",
    "episode_show_name": "VARCHAR",
    "spotify_episode_uri": "VARCHAR",
    "audiobook_title": "VARCHAR",
    "audiobook_uri": "VARCHAR",
    "audiobook_chapter_uri": "VARCHAR",
    "audiobook_chapter_title": "VARCHAR",
    "platform": "VARCHAR",
    "conn_country": "VARCHAR",
    "reason_start": "VARCHAR",
    "reason_end": "VARCHAR",
    "shuffle": "BOOLEAN",
    "skipped": "BOOLEAN",
    "offline": "BOOLEAN",
    "incognito_mode": "BOOLEAN",
}


def _connect() -> duckdb.DuckDBPyConnection:
    settings = get_settings()
    con = duckdb.connect()
    con.execute(f"set memory_limit = '{settings.duckdb.memory_limit}'")
    con.execute(f"set threads = {int(settings.duckdb.threads)}")
    return con


def floor(history: Path, out: Path) -> int:
    """DuckDB alone: export JSON -> one deduplicated Parquet file. Returns rows written."""
    files = sorted(str(p) for p in history.glob("Streaming_History_Audio_*.json"))
    columns = ", ".join(f"'{k}': '{v}'" for k, v in FLOOR_COLUMNS.items())
    con = _connect()
    con.execute("set preserve_insertion_order = false")
    con.execute(f"set temp_directory = '{out.parent / 'duckdb_tmp'}'")
    con.execute(
        "copy (select * exclude (k) replace (ts::timestamptz as ts) from ("
        "select *, hash(ts, spotify_track_uri, spotify_episode_uri, master_metadata_track_name) "
        f"as k from read_json({files}, format = 'array', columns = {{{columns}}})) "
        "qualify row_number() over (partition by k) = 1) "
        f"to '{out}' (format parquet, compression zstd)"
    )
    rows = con.execute(f"select count(*) from read_parquet('{out}')").fetchall()[0][0]
    return int(rows)


def land_poll(data_dir: Path, day: dt.date, n: int, seed: int, account: str = "me") -> Path:
    """Land ``n`` plays of ``day`` as one poll file, as the recently-played poll does.

    Stand-in until ``PollRecentlyPlayed`` (issue 3) is merged: the scenario then replays its
    cassette instead. The plays are the generator's, on ``day``, at millisecond precision.
    """
    from pipeline.demo.generate import generate_plays
    from pipeline.io.parquet import write_parquet_atomic
    from pipeline.paths import Lake
    from pipeline.transform.export_fast import parse_export_file

    rows = list(generate_plays(n, day, day, seed=seed, timezone="UTC", n_artists=300))
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    for i, row in enumerate(rows):
        ended = start + dt.timedelta(seconds=60 + i * 190, milliseconds=seed % 1000)
        row["ts"] = ended.strftime("%Y-%m-%dT%H:%M:%SZ")
    tmp = data_dir / f"poll-{seed}.json"
    tmp.write_text(json.dumps(rows), encoding="utf-8")
    parsed = parse_export_file(tmp, f"poll-{seed}", account)
    tmp.unlink()
    table = parsed.plays
    # What an API poll lands: source "api", millisecond precision.
    table = table.set_column(
        table.schema.get_field_index("source"), "source", pa.array(["api"] * table.num_rows)
    )
    table = table.set_column(
        table.schema.get_field_index("ts_precision"),
        "ts_precision",
        pa.array(["ms"] * table.num_rows),
    ).cast(schemas.PLAYS)
    lake = Lake(data_dir)
    target = lake.polls_dir / f"account={account}" / f"date={day.isoformat()}"
    path = target / f"bench-{seed}.parquet"
    write_parquet_atomic(path, table)
    return path


#: Dashboard questions asked of the marts when no Metabase card files exist yet.
FALLBACK_CARDS = {
    "plays_per_month": """
        select d.year_month, count(*) as plays, sum(f.ms_played) / 3.6e6 as hours
        from fct_plays f join dim_date d using (date_sk) group by 1 order by 1""",
    "top_artists": """
        select a.artist_name, count(*) as plays from fct_plays f join dim_artist a using (artist_sk)
        where f.content_type = 'music' group by 1 order by 2 desc limit 50""",
    "top_tracks": """
        select t.track_name, count(*) as plays from fct_plays f join dim_track t using (track_sk)
        group by 1 order by 2 desc limit 50""",
    "hour_by_weekday": """
        select d.iso_weekday, f.local_hour, count(*) as plays
        from fct_plays f join dim_date d using (date_sk) group by 1, 2 order by 1, 2""",
    "skip_rate_by_year": """
        select d.year, avg(case when f.is_skipped then 1 else 0 end) as skip_rate
        from fct_plays f join dim_date d using (date_sk) group by 1 order by 1""",
    "listeners_by_year": """
        select l.display_name, d.year, count(*) as plays
        from fct_plays f join dim_listener l using (listener_sk) join dim_date d using (date_sk)
        group by 1, 2 order by 1, 2""",
}


def card_queries() -> dict[str, str]:
    """Every dashboard card's SQL (filters at their defaults), else the fallback questions."""
    from pipeline.ops.metabase import rendered_cards

    folder = PROJECT_ROOT / "config" / "metabase"
    cards = rendered_cards(folder) if (folder / "dashboards.yaml").exists() else {}
    return cards or dict(FALLBACK_CARDS)


def cards(data_dir: Path, repeats: int = 5) -> list[dict]:
    """Run each card on the reporting DB (read-only, as Metabase does); ms first and median."""
    from pipeline.paths import Lake

    con = duckdb.connect(str(Lake(data_dir).reporting_db), read_only=True)
    con.execute(f"set threads = {int(get_settings().duckdb.threads)}")
    results = []
    for name, sql in card_queries().items():
        times = []
        error = None
        for _ in range(repeats):
            started = time.perf_counter()
            try:
                con.execute(sql).fetchall()
            except duckdb.Error as exc:
                error = str(exc).splitlines()[0]
                break
            times.append((time.perf_counter() - started) * 1000)
        results.append(
            {
                "card": name,
                "first_ms": round(times[0], 1) if times else None,
                "median_ms": round(statistics.median(times), 1) if times else None,
                "error": error,
            }
        )
    return results


def main(argv: list[str]) -> int:
    """Dispatch one step (see the module docstring)."""
    step, args = argv[0], argv[1:]
    if step == "floor":
        print(json.dumps({"rows": floor(Path(args[0]), Path(args[1]))}))  # noqa: T201
    elif step == "land-poll":
        path = land_poll(Path(args[0]), dt.date.fromisoformat(args[1]), int(args[2]), int(args[3]))
        print(json.dumps({"poll": str(path)}))  # noqa: T201
    elif step == "cards":
        print(json.dumps(cards(Path(args[0]))))  # noqa: T201
    else:
        raise SystemExit(f"unknown step {step!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
