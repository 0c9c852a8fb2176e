"""Benchmark steps that are not product commands, each runnable as its own measured process.

``python -m bench.steps floor HISTORY OUT``: the floor (DuckDB alone reads the export JSON with
declared columns and writes one deduplicated Parquet file).
``python -m bench.steps cycle-prep DATA_DIR DATE``: make the day's enrichment run with nothing
new to fetch (not measured; ``bench.poll.prepare_cycle``).
``python -m bench.steps poll-cassette DATA_DIR SEED``: the product's ``PollRecentlyPlayed``
replaying a cassette of 50 new plays written for this run (``bench.poll.poll_cassette``).
``python -m bench.steps age-polls DATA_DIR DAYS PER_DAY PLAYS``: land the saved polls of a
lake that has polled for DAYS days (not measured; ``bench.poll.age_polls``).
``python -m bench.steps cards DATA_DIR``: run every dashboard card's SQL in the product's DuckDB
and in the Metabase driver's, print timings as JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

import duckdb

from bench.histories import CACHE
from pipeline.io.duck import freeze_survivors
from pipeline.settings import PROJECT_ROOT, get_settings, metabase_settings

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


#: The venv of the DuckDB the Metabase driver bundles, made on first use and kept.
METABASE_DUCKDB_ENV = CACHE / "metabase-duckdb"
#: What each card's row gets from the driver's DuckDB, with this suffix.
DRIVER_FIELDS = ("first_ms", "median_ms", "error")
DRIVER_SUFFIX = "_metabase_duckdb"


def cards(data_dir: Path, repeats: int = 5) -> list[dict]:
    """Run each card on the reporting DB (read-only, as Metabase does); ms first and median.

    Twice: in the product's DuckDB, then in the one Metabase's driver bundles (its own venv,
    ``tests.metabase_duckdb``) with Metabase's connection settings, whose numbers are the
    ``*_metabase_duckdb`` fields. Both runs use the product's thread count, so the two columns
    differ by engine and Metabase's ``memory_limit`` only. When that DuckDB cannot run (no uv,
    no wheel, a file it cannot open) the driver's times are None and its error says why.
    """
    from pipeline.ops.metabase import driver_duckdb_settings
    from pipeline.paths import Lake
    from tests.metabase_duckdb import ensure_env, run_cards, run_cards_in

    database = Lake(data_dir).reporting_db
    threads = int(get_settings().duckdb.threads)
    queries = card_queries()
    con = duckdb.connect(str(database), read_only=True)
    con.execute(f"set threads = {threads}")
    try:
        results = run_cards(con, queries, repeats)
    finally:
        con.close()
    settings = {**driver_duckdb_settings(metabase_settings()), "threads": threads}
    try:
        python = ensure_env(METABASE_DUCKDB_ENV)
        driver = {
            c["card"]: c
            for c in run_cards_in(python, database, queries, settings, repeats)["cards"]
        }
    except RuntimeError as exc:  # Unavailable, or the file did not open in that version
        driver = {name: {"error": f"not run: {str(exc)[:300]}"} for name in queries}
    for row in results:
        row.update({f + DRIVER_SUFFIX: driver[row["card"]].get(f) for f in DRIVER_FIELDS})
    return results


def _use_lake(data_dir: Path, env: dict[str, str]) -> None:
    """Point the settings at ``data_dir`` (plus ``env`` overrides) and log as the CLI does."""
    from pipeline.log import configure_from_settings, setup_logging
    from pipeline.settings import reload_settings

    os.environ.update(env, MUSIC_TRACKER__PATHS__DATA_DIR=str(data_dir))
    setup_logging()
    reload_settings()
    configure_from_settings()


def main(argv: list[str]) -> int:
    """Dispatch one step (see the module docstring)."""
    step, args = argv[0], argv[1:]
    if step == "floor":
        print(json.dumps({"rows": floor(Path(args[0]), Path(args[1]))}))  # noqa: T201
    elif step in ("cycle-prep", "poll-cassette"):
        from bench import poll

        data_dir = Path(args[0]).resolve()
        _use_lake(data_dir, poll.poll_env() if step == "poll-cassette" else {})
        freeze_survivors()  # as the command line does: this process ends with its step
        if step == "cycle-prep":
            out = poll.prepare_cycle(data_dir, dt.date.fromisoformat(args[1]))
        else:
            out = poll.poll_cassette(data_dir, int(args[1]))
        print(json.dumps(out))  # noqa: T201
    elif step == "age-polls":
        from bench import poll

        data_dir = Path(args[0]).resolve()
        _use_lake(data_dir, {})
        days, per_day, plays = (int(a) for a in args[1:4])
        print(json.dumps(poll.age_polls(data_dir, days, per_day, plays)))  # noqa: T201
    elif step == "cards":
        print(json.dumps(cards(Path(args[0]))))  # noqa: T201
    else:
        raise SystemExit(f"unknown step {step!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
