"""What the CLI tells the user after a run: per-file import results and what was built."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.io.parquet import read_provenance
from pipeline.paths import lake
from pipeline.tasks.imports import unit_id


@dataclass(frozen=True)
class FileReport:
    """One imported file's outcome."""

    file: str
    rows: int
    imported: int
    duplicates: int
    quarantined: int
    reasons: list[str]


def _glob_sql(path: Path) -> str:
    return str(path).replace("'", "''")


def import_report(files: list[Path], account: str) -> list[FileReport]:
    """For each file: rows read, plays kept in staged data, duplicates, quarantined rows."""
    the_lake = lake()
    con = duckdb.connect()
    kept: dict[str, int] = {}
    plays_glob = the_lake.plays_dir / "date=*" / "*.parquet"
    if any(the_lake.plays_dir.glob("date=*/*.parquet")):
        for name, count in con.execute(
            f"select source_file, count(*) from read_parquet('{_glob_sql(plays_glob)}') "
            "where account = ? group by 1",
            [account],
        ).fetchall():
            kept[str(name)] = int(count)
    reports: list[FileReport] = []
    for path in files:
        uid = unit_id(path, account)
        unit = the_lake.import_unit(uid)
        prov = read_provenance(unit) or {}
        qfile = the_lake.import_quarantine(uid)
        quarantine = (
            con.execute(f"select reason from read_parquet('{_glob_sql(qfile)}')").fetchall()
            if qfile.exists()
            else []
        )
        names = (
            con.execute(
                f"select source_file, count(*) from read_parquet('{_glob_sql(unit)}') group by 1"
            ).fetchall()
            if unit.exists()
            else []
        )
        parsed = sum(int(n) for _, n in names)
        imported = sum(kept.get(str(name), 0) for name, _ in names)
        reasons = sorted({str(r[0]) for r in quarantine})
        reports.append(
            FileReport(
                file=str(path),
                rows=int(prov.get("rows_read", parsed)),
                imported=min(imported, parsed),
                duplicates=max(parsed - imported, 0),
                quarantined=len(quarantine),
                reasons=reasons[:5],
            )
        )
    con.close()
    return reports


def print_import_report(reports: list[FileReport]) -> None:
    """A table: file, rows, imported, duplicates, quarantined (+ reasons)."""
    print("\nImport report")
    print(f"{'file':<60} {'rows':>8} {'imported':>9} {'duplicate':>9} {'quarantined':>11}")
    for r in reports:
        name = r.file if len(r.file) <= 60 else "…" + r.file[-59:]
        print(f"{name:<60} {r.rows:>8} {r.imported:>9} {r.duplicates:>9} {r.quarantined:>11}")
        for reason in r.reasons:
            print(f"    quarantined: {reason}")


def summary() -> dict:
    """Headline numbers from the published marts (what Metabase will show)."""
    the_lake = lake()
    fct = the_lake.reporting_mart_dir("fct_plays")
    out: dict = {
        "warehouse": str(the_lake.warehouse),
        "reporting": str(the_lake.reporting_db),
        "plays": 0,
        "hours": 0.0,
        "top_artists": [],
    }
    if not any(fct.glob("*.parquet")):
        return out
    con = duckdb.connect()
    row = con.execute(
        "select count(*), coalesce(sum(ms_played), 0) / 3600000.0, "
        "count(*) filter (where content_type = 'podcast') "
        f"from read_parquet('{_glob_sql(fct / '*.parquet')}')"
    ).fetchone()
    if row:
        out.update(plays=int(row[0]), hours=round(float(row[1]), 1), podcast_plays=int(row[2]))
    artists = the_lake.reporting_mart_dir("dim_artist")
    if any(artists.glob("*.parquet")):
        out["top_artists"] = [
            (str(name), round(float(hours), 1))
            for name, hours in con.execute(
                "select a.artist_name, sum(f.ms_played) / 3600000.0 as hours "
                f"from read_parquet('{_glob_sql(fct / '*.parquet')}') f "
                f"join read_parquet('{_glob_sql(artists / '*.parquet')}') a using (artist_sk) "
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
