"""Open Spotify's .zip without trusting it: stream members to disk within declared bounds.

``zipfile.ZipFile.read`` holds a whole member in memory, and a 1 MB zip can expand to 1 GB.
Here every member's *declared* size and compression ratio are checked before a byte is
inflated, each member is copied to disk in 1 MB chunks (``ZipExtFile`` stops at the declared
size and checks the CRC, so a lying header fails instead of growing), and the whole archive,
nested zips included, has one budget. Members with the same name are each read (``read(name)``
would return only the last). A zip inside the zip (how a download wrapper delivers
``my_spotify_data.zip``) is opened up to ``max_depth`` levels.

Nothing here raises for a bad member: each becomes a ``Member`` with ``refused`` set to the
reason, which the importer turns into a quarantine row.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

_CHUNK = 1 << 20
#: Ratios of members smaller than this are not judged: tiny JSON files pack arbitrarily well.
_RATIO_FLOOR = 1 << 20


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds for one archive: per member, per archive (all levels) and nesting depth."""

    max_member_bytes: int
    max_total_bytes: int
    max_ratio: int
    max_depth: int
    max_entries: int = 2000


@dataclass
class Member:
    """One export file found in an archive: on disk at ``path``, or refused with a reason."""

    name: str
    path: Path | None = None
    refused: str | None = None


@dataclass
class Expansion:
    """What an archive held: its export members (read or refused) and archive-level notes."""

    members: list[Member] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    total_bytes: int = 0
    #: Entries listed by the archives opened so far, and members written to disk (file names).
    entries: int = 0
    extracted: int = 0

    def refuse(self, name: str, reason: str, nested: bool) -> None:
        """Record a member not read: an export as a refused member, a nested zip as an error."""
        if nested:
            self.errors.append(reason)
        else:
            self.members.append(Member(name, refused=reason))


def expand(
    archive: Path,
    label: str,
    workdir: Path,
    limits: ArchiveLimits,
    is_export: Callable[[str], bool],
) -> Expansion:
    """Every export member of ``archive`` (and of zips inside it), extracted under ``workdir``."""
    out = Expansion()
    _expand(archive, label, workdir, limits, is_export, 1, out)
    return out


def _expand(
    archive: Path,
    label: str,
    workdir: Path,
    limits: ArchiveLimits,
    is_export: Callable[[str], bool],
    depth: int,
    out: Expansion,
) -> None:
    listed = _listed_entries(archive)
    if listed is not None and out.entries + listed > limits.max_entries:
        out.errors.append(
            f"{label}: lists {listed:,} entries, over import.max_zip_entries "
            f"({limits.max_entries:,}, nested zips included); nothing read from it"
        )
        return
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        out.errors.append(f"{label}: not a readable zip ({exc})")
        return
    out.entries += len(zf.infolist()) if listed is None else listed
    with zf:
        seen: dict[str, int] = {}
        for info in zf.infolist():
            if info.is_dir():
                continue
            count = seen[info.filename] = seen.get(info.filename, 0) + 1
            name = f"{label}/{info.filename}"
            if count > 1:
                name += f" (copy {count})"  # same name twice: both are read, both named
            base = PurePosixPath(info.filename).name
            nested = base.lower().endswith(".zip")
            if not nested and not is_export(base):
                continue
            reason = _refusal(info, name, limits, out.total_bytes)
            if nested and reason is None and depth >= limits.max_depth:
                reason = f"{name}: zip nested deeper than import.max_zip_depth ({limits.max_depth})"
            if reason is not None:
                out.refuse(name, reason, nested)
                continue
            out.extracted += 1
            target = workdir / f"m{out.extracted}{'.zip' if nested else '.json'}"
            try:
                _copy_member(zf, info, target)
            except Exception as exc:  # noqa: BLE001 - a broken member is refused, never fatal
                target.unlink(missing_ok=True)
                out.refuse(name, f"{name}: unreadable member ({type(exc).__name__}: {exc})", nested)
                continue
            out.total_bytes += info.file_size
            if nested:
                inner = workdir / f"{target.stem}.d"
                inner.mkdir()
                _expand(target, name, inner, limits, is_export, depth + 1, out)
                target.unlink(missing_ok=True)
            else:
                out.members.append(Member(name, path=target))


#: Bytes of the zip's directory per entry it may list: 46 fixed bytes, a name and extras.
_DIRECTORY_BYTES_PER_ENTRY = 1024


def _listed_entries(archive: Path) -> int | None:
    """How many entries the zip lists, from its end record, before its directory is read
    (``ZipFile`` turns every entry into an object: ~600 bytes each). A directory larger than
    that count allows counts as the entries it could hold, so a record that lies about its
    count does not get past. None when the record cannot be read: ``ZipFile`` then says why.
    """
    try:
        with open(archive, "rb") as handle:
            record = zipfile._EndRecData(handle)  # type: ignore[attr-defined]
    except (OSError, AttributeError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    if not record:
        return None
    count = int(record[zipfile._ECD_ENTRIES_TOTAL])  # type: ignore[attr-defined]
    size = int(record[zipfile._ECD_SIZE])  # type: ignore[attr-defined]
    return max(count, size // _DIRECTORY_BYTES_PER_ENTRY)


def _refusal(info: zipfile.ZipInfo, name: str, limits: ArchiveLimits, used: int) -> str | None:
    """Why a member must not be inflated, judged on its header alone (before reading)."""
    size = info.file_size
    mb = 1024 * 1024
    if size > limits.max_member_bytes:
        return (
            f"{name}: expands to {size // mb} MB, over import.max_file_mb "
            f"({limits.max_member_bytes // mb} MB); not read"
        )
    if size > _RATIO_FLOOR and size > limits.max_ratio * max(info.compress_size, 1):
        ratio = size // max(info.compress_size, 1)
        return (
            f"{name}: expands {ratio}x ({info.compress_size} bytes to {size // mb} MB), over "
            f"import.max_compression_ratio ({limits.max_ratio}x): refused as a zip bomb"
        )
    if used + size > limits.max_total_bytes:
        return (
            f"{name}: the archive would expand to over import.max_archive_mb "
            f"({limits.max_total_bytes // mb} MB); not read"
        )
    return None


def _copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    """Stream one member to ``target``; never more than its declared size (CRC checked)."""
    with zf.open(info) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, _CHUNK)
