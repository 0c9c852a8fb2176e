"""Parquet targets: written atomically, with their provenance in the file's metadata."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.io.atomic import AtomicBatch, atomic_path

if TYPE_CHECKING:  # Arrow is imported where a file is read or written: a scheduling pass
    import pyarrow as pa  # that finds everything complete (the no-op) never loads it

PROVENANCE_KEY = b"music_tracker.provenance"


def write_parquet_atomic(
    target: Path | str,
    table: pa.Table,
    provenance: dict[str, Any] | None = None,
    *,
    compression: str = "zstd",
    row_group_size: int | None = None,
    batch: AtomicBatch | None = None,
) -> None:
    """Write ``table`` to ``target`` via temp file + rename.

    ``provenance`` (what the file was built from) is stored in the Parquet key-value metadata, so
    the data and the record of its inputs can never disagree: a task's ``complete()`` reads it.
    ``row_group_size`` matters for files read by time range (import units are sorted by time,
    so small row groups let a month's read skip the rest); ``compression`` for tiny files whose
    encoding cost is mostly per column (daily partitions). With a ``batch`` the file is renamed
    in at the batch's ``commit`` (one filesystem sync for many files) instead of now.
    """
    if provenance is not None:
        meta = dict(table.schema.metadata or {})
        meta[PROVENANCE_KEY] = json.dumps(provenance, sort_keys=True, default=str).encode()
        table = table.replace_schema_metadata(meta)
    import pyarrow.parquet as pq

    with atomic_path(target) if batch is None else batch.path(target) as tmp:
        pq.write_table(table, tmp, compression=compression, row_group_size=row_group_size)


def read_provenance(path: Path | str) -> dict[str, Any] | None:
    """The provenance stored by ``write_parquet_atomic``; None if absent or unreadable."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid):
        return None
    raw = meta.get(PROVENANCE_KEY)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def parquet_unreadable_reason(path: Path | str) -> str | None:
    """Why ``path`` is not a Parquet file a reader can open (its footer), or None if it is."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pq.read_metadata(path)
    except (OSError, pa.ArrowException) as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None
