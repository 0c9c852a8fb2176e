"""Import Spotify data-export files: keep the raw bytes, then parse them into one unit.

An import reads a ``.json`` export file or the ``.zip`` Spotify sends, copies it byte for byte
into ``raw/exports/<sha>/`` (mode 0600: every row holds the listener's IP address) *before*
parsing, streams a zip's members to disk within bounds (``io/archive.py``), and writes one
Parquet unit of plays (plus a quarantine file for rows that could not become plays). The unit's
provenance lists the UTC days it covers, which is how ``StagePlays(date)`` finds its inputs
without a scan.

Luigi-free: ``pipeline.tasks.imports`` wires ``import_file`` into ``ImportExport(s)``; the CLI
uses ``raw_imports`` directly (and ``ingest.finding`` to find the files).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline import schemas
from pipeline.ingest.finding import is_export_name
from pipeline.ingest.units import NO_EXPORT
from pipeline.io.archive import ArchiveLimits, Member, expand
from pipeline.io.atomic import write_json_atomic
from pipeline.io.duck import connect
from pipeline.io.export_fast import parse_export_file
from pipeline.io.keep import keep_by_content
from pipeline.io.parquet import write_parquet_atomic
from pipeline.paths import lake
from pipeline.settings import get_settings
from pipeline.transform.export import (
    ExportFormatError,
    Limits,
    ParsedExport,
    file_quarantine,
    play_days,
)

logger = logging.getLogger(__name__)

#: Rows per row group of an import unit: units are sorted by time, so staging a month reads
#: only the row groups that overlap it instead of whole 15,000-row files.
UNIT_ROW_GROUP = 2048


#: Mode of the raw copies: every row of an export holds the listener's IP address.
RAW_MODE = 0o600
#: A raw copy's receipt, ``raw/exports/<sha>/<account>.import.json``: whose plays the bytes are.
RECEIPT_SUFFIX = ".import.json"


def keep_raw(path: Path) -> tuple[str, Path]:
    """Copy ``path`` into raw/exports/<sha>/ (mode 0600), streamed; return (sha, the copy).

    The bytes are hashed while copied, so a 1 GB file is never held in memory. A copy kept by
    an older version with a wider mode is narrowed to 0600.
    """
    the_lake = lake()
    return keep_by_content(
        path, the_lake.raw / "exports", lambda sha: the_lake.raw_export(sha, path.name), RAW_MODE
    )


def _archive_limits() -> ArchiveLimits:
    cfg = get_settings().import_
    mb = 1024 * 1024
    return ArchiveLimits(
        max_member_bytes=cfg.max_file_mb * mb,
        max_total_bytes=cfg.max_archive_mb * mb,
        max_ratio=cfg.max_compression_ratio,
        max_depth=cfg.max_zip_depth,
        max_entries=cfg.max_zip_entries,
    )


def _members(raw: Path, label: str, workdir: Path) -> tuple[list[Member], list[str], bool]:
    """The export files of one input: itself for a .json, else the zip's members (streamed).

    Returns (members, archive-level errors, whether a readable archive held no export at all).
    """
    if raw.suffix.lower() != ".zip":
        limit = get_settings().import_.max_file_mb * 1024 * 1024
        size = raw.stat().st_size
        if size > limit:
            reason = f"{label}: {size // 1048576} MB is over import.max_file_mb; not read"
            return [Member(label, refused=reason)], [], False
        return [Member(label, path=raw)], [], False
    found = expand(raw, label, workdir, _archive_limits(), is_export_name)
    errors = list(found.errors)
    no_export = not found.members and not found.errors
    if no_export:
        errors.append(
            f"{label}: no Spotify streaming-history file in the archive (looked for "
            f"{', '.join(get_settings().import_.patterns)}); nothing imported"
        )
    return found.members, errors, no_export


def _parse_member(
    con: duckdb.DuckDBPyConnection, member: Member, account: str, limits: Limits
) -> ParsedExport:
    """Parse one export file on disk; any failure of any parser becomes ExportFormatError."""
    assert member.path is not None
    try:
        return parse_export_file(member.path, member.name, account, con, limits)
    except ExportFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - RecursionError, MemoryError, a DuckDB bug: one file
        raise ExportFormatError(
            f"{member.name}: could not be parsed ({type(exc).__name__}: {exc})"
        ) from exc


def import_file(path: Path, account: str, now: dt.datetime | None = None) -> dict[str, int]:
    """Keep ``path`` in raw/, parse it, and write its unit and quarantine. Returns counts.

    No row, member or archive makes this raise: each problem is a quarantine row with its
    reason, and the valid rows of the same file and of the other members still land. ``now``
    is the import's clock (the range rule's "not in the future").
    """
    settings = get_settings()
    the_lake = lake()
    sha, raw_target = keep_raw(path)
    uid = f"{sha}-{account}"
    receipt = raw_target.with_name(f"{account}{RECEIPT_SUFFIX}")
    if not receipt.exists():
        # Which listener these bytes belong to: what a rebuild from raw/ needs to know.
        write_json_atomic(receipt, {"account": account, "file": path.name}, mode=RAW_MODE)
    limits = Limits.at(now, settings.import_.max_future_minutes)
    plays: list[pa.Table] = []
    quarantine: list[pa.Table] = []
    rows_read = 0
    with tempfile.TemporaryDirectory(prefix="music-tracker-import-") as tmp:
        members, errors, no_export = _members(raw_target, path.name, Path(tmp))
        for reason in errors:
            logger.warning("quarantined %s", reason)
            quarantine.append(file_quarantine(account, path.name, reason))
        con = connect()
        try:
            for member in members:
                if member.refused is not None:
                    logger.warning("quarantined file %s", member.refused)
                    quarantine.append(file_quarantine(account, member.name, member.refused))
                    continue
                try:
                    parsed = _parse_member(con, member, account, limits)
                except ExportFormatError as exc:
                    logger.warning("quarantined file %s: %s", member.name, exc)
                    quarantine.append(file_quarantine(account, member.name, str(exc)))
                    continue
                rows_read += parsed.rows_read
                plays.append(parsed.plays)
                quarantine.append(parsed.quarantine)
        finally:
            con.close()
    plays_table = (
        pa.concat_tables(plays).sort_by([("played_at", "ascending"), ("play_id", "ascending")])
        if plays
        else schemas.empty(schemas.PLAYS)
    )
    q_table = pa.concat_tables(quarantine) if quarantine else schemas.empty(schemas.QUARANTINE)
    dates = play_days(plays_table)
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
            "members": len(members),
            NO_EXPORT: no_export,
            "raw": str(raw_target.relative_to(the_lake.root)),
        },
        row_group_size=UNIT_ROW_GROUP,
    )
    return {"plays": plays_table.num_rows, "quarantined": q_table.num_rows, "rows": rows_read}


@dataclass
class ImportBatch:
    """What importing several files produced: each file's counts, and the files that failed."""

    counts: list[dict[str, int]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "<file name>: <error>"

    @property
    def plays(self) -> int:
        return sum(c["plays"] for c in self.counts)

    @property
    def quarantined(self) -> int:
        return sum(c["quarantined"] for c in self.counts)


def import_files(
    files: list[tuple[Path, str]], on_file: Callable[[int, str], None] | None = None
) -> ImportBatch:
    """``import_file`` for each (file, account), ``duckdb.threads`` files side by side.

    DuckDB reads one JSON array on one core, so a ten-year export (~70 files) imports in about
    half the time on two cores. Every file is tried: one that fails is logged and listed in
    ``failed``, the others still land. ``on_file(done, name)`` is called after each file.
    """
    batch = ImportBatch()
    workers = min(len(files), max(1, get_settings().duckdb.threads))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(import_file, path, account): path for path, account in files}
        for done, future in enumerate(as_completed(futures), start=1):
            path = futures[future]
            try:
                batch.counts.append(future.result())
            except Exception as exc:  # noqa: BLE001 - every file is tried, all named
                logger.error("import of %s failed: %s", path, exc)
                batch.failed.append(f"{path.name}: {exc}")
            if on_file is not None:
                on_file(done, path.name)
    return batch


def raw_imports() -> list[tuple[Path, str]]:
    """Every (raw export file, account) ever imported: enough to rebuild staged/ from raw/.

    ``rebuild`` is what a user runs after damage, so a damaged receipt does not stop it: the
    account is also the receipt's name and the bytes sit beside it (``read_receipt``). A receipt
    whose raw copy is gone is skipped with an error naming it; the rest is rebuilt.
    """
    root = lake().raw / "exports"
    found: list[tuple[Path, str]] = []
    for receipt in sorted(root.glob(f"*/*{RECEIPT_SUFFIX}")):
        kept = read_receipt(receipt)
        if kept is None:
            logger.error(
                "import receipt %s: its raw copy is gone, so its plays cannot be rebuilt; "
                "import the original file again (`music-tracker import FILE --account %s`)",
                receipt,
                receipt.name.removesuffix(RECEIPT_SUFFIX),
            )
            continue
        found.append(kept)
    return found


def read_receipt(receipt: Path) -> tuple[Path, str] | None:
    """(raw copy, account) of one receipt; None when no raw copy is left beside it.

    A receipt that is not the JSON ``import_file`` wrote, or names no file in its folder, falls
    back to what its place says: the account from its name, the bytes from the folder's one
    raw copy (the first by name when the same bytes were kept under several names).
    """
    account = receipt.name.removesuffix(RECEIPT_SUFFIX)
    try:
        info = json.loads(receipt.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = None
    if isinstance(info, dict) and isinstance(info.get("file"), str):
        named = receipt.parent / Path(info["file"]).name  # never outside its own folder
        if named.is_file() and info.get("account") == account:
            return named, account
    copies = sorted(
        p for p in receipt.parent.iterdir() if p.is_file() and not p.name.endswith(RECEIPT_SUFFIX)
    )
    if not copies:
        return None
    logger.warning(
        "import receipt %s is damaged; rebuilding %s as account %r (the receipt's name)",
        receipt,
        copies[0].name,
        account,
    )
    return copies[0], account
