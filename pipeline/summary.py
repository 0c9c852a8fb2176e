"""What the CLI tells the user after a run: per-file import results and what was built."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.ingest.units import NO_EXPORT, unit_id
from pipeline.io.atomic import write_json_atomic
from pipeline.io.duck import connect, sql_string
from pipeline.io.markers import fingerprint
from pipeline.io.parquet import read_provenance
from pipeline.paths import Lake, lake

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class FileReport:
    """One imported file's outcome.

    ``duplicates`` counts only rows whose play *is* in the staged data (the same play_id, or
    the same play from a richer source within the dedupe window); a parsed row that is in
    neither is ``not_staged`` (staging has not run, or failed), never called a duplicate.
    """

    file: str
    rows: int
    imported: int
    duplicates: int
    quarantined: int
    reasons: list[str]
    not_staged: int = 0
    no_export: bool = False
    #: Plays this run added (0 for a file whose bytes were imported before: a rerun).
    new: int = 0
    #: The same bytes were imported for this account before this run.
    already: bool = False


#: Exit code of ``music-tracker import`` when an archive held no streaming-history file.
NO_EXPORT_EXIT = 3
#: Exit code when no given file held a single importable play (only non-export JSON, say).
NOTHING_IMPORTED_EXIT = 4


def known_units(files: list[Path], account: str) -> set[str]:
    """Import units (file bytes + account) already in the lake before this run."""
    the_lake = lake()
    return {
        uid for uid in (unit_id(p, account) for p in files) if the_lake.import_unit(uid).exists()
    }


def parsed_rows(files: list[Path], account: str) -> int:
    """Plays parsed from ``files`` (quarantined rows excluded): 0 means nothing to import."""
    the_lake = lake()
    units = [the_lake.import_unit(unit_id(p, account)) for p in files]
    units = [u for u in units if u.exists()]
    if not units:
        return 0
    con = connect()  # capped: a bare connection may take 80% of the RAM
    try:
        row = con.execute("select count(*) from read_parquet(?)", [[str(u) for u in units]])
        found = row.fetchone()
    finally:
        con.close()
    return int(found[0]) if found else 0


def staged_play_count(account: str) -> int:
    """Plays of ``account`` in the staged data now (before/after an import: what is new)."""
    plays = lake().plays_dir
    if not any(plays.glob("date=*/*.parquet")):
        return 0
    con = connect()  # capped: a bare connection may take 80% of the RAM
    try:
        row = con.execute(
            "select count(*) from read_parquet(?, union_by_name = true) where account = ?",
            [str(plays / "date=*" / "*.parquet"), account],
        ).fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


def import_exit_code(reports: list[FileReport]) -> int:
    """Non-zero (``NO_EXPORT_EXIT``) when a given archive held no export: nothing to import.

    Every other problem (rows, files, refused members) is a quarantine row and exits 0.
    """
    return NO_EXPORT_EXIT if any(r.no_export for r in reports) else 0


#: Per import unit: rows, rows kept in the staged data, and duplicate rows whose play_id is
#: staged from another row; plus the days of the rows that are neither ("pending": maybe the
#: same play from another source, checked by ``_NEAR_SQL``) and the account's staged plays
#: (reading thousands of daily files once more took ~1 s). Joins on 64-bit hashes of the
#: keys: with strings, at 1M plays the joins spilled 4.6 GB past the 128 MB cap (7 s).
#: A play_id is made from the play's time, so both keys only ever match on the same day.
_KEPT_SQL = """
with u as (
    select filename as unit, hash(play_id, source_file) as k, hash(play_id) as p,
        played_at::date as day
    from read_parquet($units, filename = true)
),
s as (
    select hash(play_id, source_file) as k, hash(play_id) as p
    from read_parquet($plays) where account = $account
),
rest as (select * from u anti join s using (k)),
exact as (select unit, count(distinct k) as n from rest semi join s using (p) group by unit),
pending as (select distinct day from rest anti join s using (p)),
totals as (select unit, count(*) as n from u group by unit),
rest_n as (select unit, count(*) as n from rest group by unit)
select totals.unit, totals.n, totals.n - coalesce(rest_n.n, 0), coalesce(exact.n, 0),
    (select list(day) from pending), (select count(*) from s)
from totals left join rest_n using (unit) left join exact using (unit)
"""
#: Per unit, the pending rows that are the same play from another source: the same track,
#: episode or names within 70 s (dedupe rules 2 and 3, which never cross midnight UTC). Reads
#: only the staged days of pending rows: a first import has none or a few.
_NEAR_SQL = """
with r as (
    select filename as unit, hash(play_id, source_file) as k, hash(play_id) as p, played_at,
        track_id, episode_id,
        lower(trim(coalesce(artist_name, show_name, ''))) as who,
        lower(trim(coalesce(track_name, episode_name, ''))) as what,
        played_at::date as day
    from read_parquet($units, filename = true)
    where played_at::date in (select unnest($days))  -- a hash join: up to ~3,650 days
),
s as (
    select hash(play_id, source_file) as k, hash(play_id) as p, played_at, track_id,
        episode_id,
        lower(trim(coalesce(artist_name, show_name, ''))) as who,
        lower(trim(coalesce(track_name, episode_name, ''))) as what,
        played_at::date as day
    from read_parquet($plays) where account = $account
),
pending as (select * from (select * from r anti join s using (k)) anti join s using (p)),
near as (
    select distinct p.unit, p.k from pending p join s
    on s.day = p.day
        and abs(epoch_ms(s.played_at) - epoch_ms(p.played_at)) <= 70000
        and (s.track_id = p.track_id or s.episode_id = p.episode_id
            or (s.who = p.who and s.what = p.what))
)
select unit, count(*) from near group by unit
"""


def _outcomes(
    the_lake: Lake, con: duckdb.DuckDBPyConnection, units: list[str], account: str
) -> tuple[dict[str, tuple[int, int, int]], int]:
    """Per import unit (path): rows parsed, rows kept in the staged data, duplicate rows;
    and the account's staged plays."""
    plays_glob = str(the_lake.plays_dir / "date=*" / "*.parquet")
    rows = con.execute(
        _KEPT_SQL, {"units": units, "plays": plays_glob, "account": account}
    ).fetchall()
    out = {str(unit): (int(n), int(kept), int(exact)) for unit, n, kept, exact, *_ in rows}
    days, staged = (rows[0][4], int(rows[0][5])) if rows else (None, 0)
    partitions = (the_lake.plays_partition(day) for day in days or [])
    day_files = [str(part) for part in partitions if part.exists()]
    if day_files:
        near = con.execute(
            _NEAR_SQL,
            {"units": units, "plays": day_files, "account": account, "days": days},
        ).fetchall()
        for unit, n in near:
            parsed, kept, exact = out[str(unit)]
            out[str(unit)] = (parsed, kept, exact + int(n))
    return out, staged


def import_report(
    files: list[Path],
    account: str,
    before: int | None = None,
    known: set[str] | None = None,
    ids: dict[str, str] | None = None,
) -> list[FileReport]:
    """For each file: rows read, new plays, plays kept, duplicates, quarantined rows.

    ``before`` (staged plays of the account before the run) and ``known`` (units imported
    before) make a rerun say "0 new" instead of counting the same plays again. ``ids`` are the
    files' unit ids (resolved path: id) where the import already hashed them (0.6 s at 1M).
    """
    known = known or set()
    ids = ids or {}

    def uid_of(path: Path) -> str:
        return ids.get(str(path.resolve())) or unit_id(path, account)

    the_lake = lake()
    con = connect()  # capped: a bare connection may take 80% of the RAM
    have_staged = any(the_lake.plays_dir.glob("date=*/*.parquet"))
    reports: list[FileReport] = []
    units = {path: the_lake.import_unit(uid_of(path)) for path in files}
    present = [str(unit) for unit in units.values() if unit.exists()]
    outcome: dict[str, tuple[int, int, int]] = {}
    staged: int | None = None  # the account's staged plays, when the outcomes counted them
    if present and have_staged:
        outcome, staged = _outcomes(the_lake, con, present, account)
    elif present:
        for unit_path, parsed in con.execute(
            "select filename, count(*) from read_parquet(?, filename = true) group by 1",
            [present],
        ).fetchall():
            outcome[str(unit_path)] = (int(parsed), 0, 0)
    for path in files:
        uid = uid_of(path)
        unit = units[path]
        prov = read_provenance(unit) or {}
        qfile = the_lake.import_quarantine(uid)
        quarantine = (
            con.execute(f"select reason from read_parquet({sql_string(qfile)})").fetchall()
            if qfile.exists()
            else []
        )
        parsed, imported, duplicates = outcome.get(str(unit), (0, 0, 0))
        reasons = sorted({str(r[0]) for r in quarantine})
        reports.append(
            FileReport(
                file=str(path),
                rows=int(prov.get("rows_read", parsed)),
                imported=imported,
                duplicates=duplicates,
                quarantined=len(quarantine),
                reasons=reasons[:5],
                not_staged=parsed - imported - duplicates,
                no_export=bool(prov.get(NO_EXPORT)),
                new=0 if uid in known else imported,
                already=uid in known,
            )
        )
    con.close()
    if before is not None and reports:
        # Per file, "new" is what this run added; the account's total decides (two files may
        # share plays, and a play can already be staged from the API).
        now = staged_play_count(account) if staged is None else staged
        added = max(now - before, 0)
        fresh = [r for r in reports if not r.already]
        total = sum(r.new for r in fresh)
        if total > added:
            reports = _cap_new(reports, added)
    return reports


def _cap_new(reports: list[FileReport], added: int) -> list[FileReport]:
    """Spread the account's real number of added plays over the files, in order."""
    from dataclasses import replace

    out = []
    left = added
    for r in reports:
        take = min(r.new, left)
        left -= take
        out.append(replace(r, new=take))
    return out


def print_import_report(reports: list[FileReport]) -> None:
    """A table: file, rows, new, duplicates, quarantined (+ reasons), then the totals."""
    print("\nImport report")
    print(f"{'file':<60} {'rows':>8} {'new':>9} {'duplicate':>9} {'quarantined':>11}")
    for r in reports:
        name = r.file if len(r.file) <= 60 else "…" + r.file[-59:]
        print(f"{name:<60} {r.rows:>8} {r.new:>9} {r.duplicates:>9} {r.quarantined:>11}")
        if r.already:
            print(f"    already imported: the same file was imported before ({r.imported} plays)")
        if r.not_staged:
            print(f"    not staged: {r.not_staged} plays parsed but not in staged data yet")
        for reason in r.reasons:
            print(f"    quarantined: {reason}")
        if r.no_export:
            print("    error: no Spotify streaming-history file in this archive")
    new = sum(r.new for r in reports)
    quarantined = sum(r.quarantined for r in reports)
    print(f"{len(reports)} file(s): {new:,} new plays, {quarantined:,} rows quarantined")


def summary() -> dict:
    """Headline numbers from the published marts (what Metabase will show).

    Kept in ``state/summary.json`` with the fingerprints (``io.markers``) of the published files
    it was computed from: a run that published nothing new (a no-op build) prints the same
    numbers without scanning a million plays again (~0.2 s of a 0.5 s budget).
    """
    the_lake = lake()
    fct = the_lake.reporting_mart_dir("fct_plays")
    artists = the_lake.reporting_mart_dir("dim_artist")
    out: dict = {
        "warehouse": str(the_lake.warehouse),
        "reporting": str(the_lake.reporting_db),
        "plays": 0,
        "hours": 0.0,
        "top_artists": [],
    }
    if not any(fct.glob("*.parquet")):
        return out
    kept = the_lake.state / "summary.json"
    key = [fingerprint(fct), fingerprint(artists)]
    try:
        cached = json.loads(kept.read_text(encoding="utf-8"))
        if cached.get("key") == key:
            return {**out, **cached["numbers"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # absent or damaged: computed again below
    numbers = _headline_numbers(fct, artists)
    try:
        write_json_atomic(kept, {"key": key, "numbers": numbers})
    except OSError:
        pass  # a read-only lake: the next run computes them again
    return {**out, **numbers}


def _headline_numbers(fct: Path, artists: Path) -> dict:
    """Plays, hours, podcast plays and the top five artists, read from the published Parquet."""
    out: dict = {"plays": 0, "hours": 0.0, "top_artists": []}
    con = connect()  # capped: a bare connection may take 80% of the RAM
    row = con.execute(
        "select count(*), coalesce(sum(ms_played), 0) / 3600000.0, "
        "count(*) filter (where content_type = 'podcast') "
        f"from read_parquet({sql_string(fct / '*.parquet')})"
    ).fetchone()
    if row:
        out.update(plays=int(row[0]), hours=round(float(row[1]), 1), podcast_plays=int(row[2]))
    if any(artists.glob("*.parquet")):
        out["top_artists"] = [
            [str(name), round(float(hours), 1)]
            for name, hours in con.execute(
                "select a.artist_name, sum(f.ms_played) / 3600000.0 as hours "
                f"from read_parquet({sql_string(fct / '*.parquet')}) f "
                f"join read_parquet({sql_string(artists / '*.parquet')}) a using (artist_sk) "
                "where a.artist_key <> '-1' group by 1 order by hours desc, 1 limit 5"
            ).fetchall()
        ]
    con.close()
    return out


def print_summary() -> None:
    """Print what was built and where the databases are."""
    s = summary()
    print("\nWhat was built")
    print(f"  plays:            {s['plays']:,} ({s.get('podcast_plays', 0):,} podcast)")
    print(f"  hours listened:   {s['hours']:,}")
    if s["top_artists"]:
        print("  top artists:      " + ", ".join(f"{n} ({h} h)" for n, h in s["top_artists"]))
    print(f"  warehouse (dbt):  {s['warehouse']}")
    print(f"  reporting (Metabase, read-only): {s['reporting']}")
