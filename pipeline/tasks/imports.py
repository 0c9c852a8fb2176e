"""Import Spotify data-export files: keep the raw bytes, then parse them into one unit.

``ImportExport(file=PATH)`` reads a ``.json`` export file or the ``.zip`` Spotify sends, copies
it byte for byte into ``raw/exports/<sha>/`` *before* parsing, and writes one Parquet unit of
plays (plus a quarantine file for rows that could not become plays). The unit's provenance lists
the UTC days it covers, which is how ``StagePlays(date)`` finds its inputs without a scan.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import logging
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

import duckdb
import luigi
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import schemas
from pipeline.io.atomic import write_bytes_atomic, write_json_atomic
from pipeline.io.duck import connect
from pipeline.io.parquet import read_provenance, write_parquet_atomic
from pipeline.settings import get_settings
from pipeline.tasks.base import current_lake, timed_result
from pipeline.transform.export import ExportFormatError, ParsedExport
from pipeline.transform.export_fast import parse_export_file

logger = logging.getLogger(__name__)

#: Rows per row group of an import unit: units are sorted by time, so staging a month reads
#: only the row groups that overlap it instead of whole 15,000-row files.
UNIT_ROW_GROUP = 2048


def is_export_name(name: str) -> bool:
    """Whether a file name is one of Spotify's streaming-history files."""
    base = PurePosixPath(name).name
    return any(fnmatch.fnmatch(base, p) for p in get_settings().import_.patterns)


def find_export_files(paths: list[Path]) -> list[Path]:
    """Expand folders into the export files and zips they hold, sorted and without repeats."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and (child.suffix == ".zip" or is_export_name(child.name)):
                    found.append(child)
        else:
            found.append(path)
    seen: set[Path] = set()
    return [p for p in found if not (p.resolve() in seen or seen.add(p.resolve()))]


@functools.lru_cache(maxsize=4096)
def _sha_of(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def file_sha(path: Path) -> str:
    """Content hash of a file, cached on (path, size, mtime) since output() asks often."""
    stat = path.stat()
    return _sha_of(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def unit_id(path: Path, account: str) -> str:
    """One unit per (file content, account): the same bytes for the same listener import once."""
    return f"{file_sha(path)}-{account}"


def _members(path: Path, data: bytes) -> list[tuple[str, bytes | None]]:
    """The export files inside ``data``: itself for a .json (read from disk), else zip members."""
    if path.suffix.lower() != ".zip":
        return [(path.name, None)]
    import io

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ExportFormatError(f"{path.name}: not a readable zip ({exc})") from exc
    with archive:
        names = sorted(n for n in archive.namelist() if is_export_name(n) and not n.endswith("/"))
        return [(f"{path.name}/{n}", archive.read(n)) for n in names]


def _parse_member(
    con: duckdb.DuckDBPyConnection, path: Path, name: str, blob: bytes | None, account: str
) -> ParsedExport:
    """Parse one export file through the fast path (DuckDB reads it from disk)."""
    if blob is None:
        return parse_export_file(path, name, account, con)
    with tempfile.TemporaryDirectory(prefix="music-tracker-import-") as tmp:
        member = Path(tmp) / "member.json"
        member.write_bytes(blob)
        return parse_export_file(member, name, account, con)


def import_file(path: Path, account: str) -> dict[str, int]:
    """Keep ``path`` in raw/, parse it, and write its unit and quarantine. Returns counts."""
    settings = get_settings()
    the_lake = current_lake()
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()[:16]
    uid = f"{sha}-{account}"
    raw_target = the_lake.raw_export(sha, path.name)
    if not raw_target.exists():
        write_bytes_atomic(raw_target, data)
    receipt = raw_target.with_name(f"{account}.import.json")
    if not receipt.exists():
        # Which listener these bytes belong to: what a rebuild from raw/ needs to know.
        write_json_atomic(receipt, {"account": account, "file": path.name})
    plays: list[pa.Table] = []
    quarantine: list[pa.Table] = []
    rows_read = 0
    limit = settings.import_.max_file_mb * 1024 * 1024
    try:
        members = _members(path, data)
    except ExportFormatError as exc:
        members = []
        quarantine.append(_file_error(account, path.name, str(exc)))
    con = connect()
    for name, blob in members:
        size = len(data) if blob is None else len(blob)
        if size > limit:
            reason = f"{name}: {size // 1048576} MB is over import.max_file_mb"
            quarantine.append(_file_error(account, name, reason))
            continue
        try:
            parsed = _parse_member(con, raw_target, name, blob, account)
        except ExportFormatError as exc:
            logger.warning("quarantined file %s: %s", name, exc)
            quarantine.append(_file_error(account, name, str(exc)))
            continue
        rows_read += parsed.rows_read
        plays.append(parsed.plays)
        quarantine.append(parsed.quarantine)
    con.close()
    plays_table = (
        pa.concat_tables(plays).sort_by([("played_at", "ascending"), ("play_id", "ascending")])
        if plays
        else schemas.empty(schemas.PLAYS)
    )
    q_table = pa.concat_tables(quarantine) if quarantine else schemas.empty(schemas.QUARANTINE)
    dates = sorted({d.isoformat() for d in pc.unique(_dates(plays_table)).to_pylist()})
    # Quarantine first, unit last: the unit is the completion marker of the whole import.
    write_parquet_atomic(the_lake.import_quarantine(uid), q_table)
    write_parquet_atomic(
        the_lake.import_unit(uid),
        plays_table,
        provenance={
            "file": path.name,
            "sha256_16": sha,
            "account": account,
            "dates": dates,
            "rows_read": rows_read,
            "raw": str(raw_target.relative_to(the_lake.root)),
        },
        row_group_size=UNIT_ROW_GROUP,
    )
    return {"plays": plays_table.num_rows, "quarantined": q_table.num_rows, "rows": rows_read}


def _dates(table: pa.Table) -> pa.Array:
    return pc.cast(table["played_at"], pa.date32())


def _file_error(account: str, name: str, reason: str) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "account": account,
                "source": "export",
                "source_file": name,
                "source_row": None,
                "reason": reason,
                "record": None,
            }
        ],
        schema=schemas.QUARANTINE,
    )


def raw_imports() -> list[tuple[Path, str]]:
    """Every (raw export file, account) ever imported: enough to rebuild staged/ from raw/."""
    root = current_lake().raw / "exports"
    found: list[tuple[Path, str]] = []
    for receipt in sorted(root.glob("*/*.import.json")):
        info = json.loads(receipt.read_text(encoding="utf-8"))
        found.append((receipt.parent / info["file"], info["account"]))
    return found


def unit_dates(path: Path) -> list[str]:
    """The UTC days a unit covers, from its provenance."""
    prov = read_provenance(path) or {}
    dates = prov.get("dates", [])
    return [d for d in dates if isinstance(d, str)]


class ImportExport(luigi.Task):
    """Import one Spotify export file (.json or .zip) for one account."""

    file: str = luigi.Parameter(description="A Streaming History .json file or Spotify's .zip")
    account: str = luigi.Parameter(default="", description="Listener; default_account if empty")

    def _account(self) -> str:
        return self.account or get_settings().default_account

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(
            str(current_lake().import_unit(unit_id(Path(self.file), self._account())))
        )

    def complete(self) -> bool:
        # A unit that exists but cannot be read (a crash of the disk, not of ours: our writes
        # are atomic) is not an import: redo it from the file or raw/.
        return read_provenance(self.output().path) is not None

    def run(self) -> None:
        path = Path(self.file)
        get_settings().account(self._account())  # fail early on an unknown listener
        with timed_result(self, "imports") as result:
            counts = import_file(path, self._account())
            result["rows"] = counts["plays"]
        self.set_status_message(
            f"{counts['plays']} plays, {counts['quarantined']} quarantined from {path.name}"
        )


class ImportExports(luigi.Task):
    """Import several export files at once: the unit of ``music-tracker import`` and ``rebuild``.

    Each file gets exactly what ``ImportExport`` gives it (raw copy, unit, quarantine, and the
    same completion check), but the files are parsed by ``duckdb.threads`` threads side by
    side: DuckDB reads one JSON array on one core, so a ten-year export (~70 files) imports in
    about half the time on two cores. Rerunning it imports only the files not done yet;
    ``ImportExport(file=...)`` still redoes one file alone.
    """

    files: tuple[str, ...] = luigi.ListParameter(description="Export files (.json or .zip)")
    account: str = luigi.Parameter(default="", description="Listener; default_account if empty")

    def _singles(self) -> list[ImportExport]:
        return [ImportExport(file=f, account=self.account) for f in self.files]

    @staticmethod
    def _done(task: ImportExport) -> bool:
        try:
            return task.complete()
        except OSError:  # the file is gone or unreadable: run() names it
            return False

    def complete(self) -> bool:
        return all(self._done(task) for task in self._singles())

    def run(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        todo = [task for task in self._singles() if not self._done(task)]
        if not todo:
            return
        get_settings().account(todo[0]._account())  # fail early on an unknown listener
        counts: list[dict[str, int]] = []
        failed: list[str] = []
        with timed_result(self, "imports") as result:
            workers = min(len(todo), max(1, get_settings().duckdb.threads))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = {
                    t.file: pool.submit(import_file, Path(t.file), t._account()) for t in todo
                }
            for name, future in futures.items():
                try:
                    counts.append(future.result())
                except Exception as exc:  # noqa: BLE001 - every file is tried, then all are named
                    logger.error("import of %s failed: %s", name, exc)
                    failed.append(f"{Path(name).name}: {exc}")
            result["rows"] = sum(c["plays"] for c in counts)
        if failed:
            # The other files are imported (their units are complete); a rerun retries these.
            raise RuntimeError(f"{len(failed)} of {len(todo)} files failed: " + "; ".join(failed))
        self.set_status_message(
            f"{result['rows']} plays, {sum(c['quarantined'] for c in counts)} quarantined "
            f"from {len(todo)} files"
        )
