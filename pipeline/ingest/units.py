"""What names an import unit (a file's content hash and its listener), and what days it covers.

The CLI's import summary (``pipeline.summary``) finds the units an import made with these;
``pipeline.tasks.imports`` names its outputs with the same functions, and staging reads a
unit's days with ``provenance_dates``.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

#: Provenance key saying a .zip held no streaming-history file (see ``report.import_exit_code``).
NO_EXPORT = "no_export"


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


def provenance_dates(prov: dict) -> list[str]:
    """The UTC days a unit covers, from its provenance (``io.parquet.read_provenance``)."""
    dates = prov.get("dates", [])
    return [d for d in dates if isinstance(d, str)]
