"""One Arrow schema per staged dataset: the contract between tasks and dbt sources.

Writers build their tables with these schemas, so a zero-row day still has every column and
DuckDB's ``union_by_name`` sees consistent types across partitions.
"""

from __future__ import annotations

import pyarrow as pa

UTC_MS = pa.timestamp("ms", tz="UTC")

#: Where a play came from, in order of preference when two sources saw the same play.
SOURCES = ("export_extended", "api", "export_account")

#: What was played. Podcasts and audiobooks are kept, apart from music.
CONTENT_TYPES = ("music", "podcast", "audiobook")

PLAYS = pa.schema(
    [
        # ---------- ids
        pa.field("play_id", pa.string(), nullable=False),
        pa.field("account", pa.string(), nullable=False),
        pa.field("track_id", pa.string()),
        pa.field("episode_id", pa.string()),
        pa.field("audiobook_id", pa.string()),
        pa.field("audiobook_chapter_id", pa.string()),
        # ---------- strings
        pa.field("content_type", pa.string(), nullable=False),
        pa.field("track_name", pa.string()),
        pa.field("artist_name", pa.string()),
        pa.field("album_name", pa.string()),
        pa.field("episode_name", pa.string()),
        pa.field("show_name", pa.string()),
        pa.field("audiobook_title", pa.string()),
        pa.field("audiobook_chapter_title", pa.string()),
        pa.field("platform", pa.string()),
        pa.field("conn_country", pa.string()),
        pa.field("reason_start", pa.string()),
        pa.field("reason_end", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("ts_precision", pa.string(), nullable=False),
        # ---------- numerics
        pa.field("ms_played", pa.int64(), nullable=False),
        pa.field("source_row", pa.int64(), nullable=False),
        # ---------- booleans
        pa.field("shuffle", pa.bool_()),
        pa.field("skipped", pa.bool_()),
        pa.field("offline", pa.bool_()),
        pa.field("incognito_mode", pa.bool_()),
        pa.field("is_local", pa.bool_(), nullable=False),
        # ---------- timestamps (UTC; `played_at` is when playback ended)
        pa.field("played_at", UTC_MS, nullable=False),
    ]
)

QUARANTINE = pa.schema(
    [
        pa.field("account", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_row", pa.int64()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("record", pa.string()),
    ]
)

LISTENERS = pa.schema(
    [
        pa.field("account", pa.string(), nullable=False),
        pa.field("display_name", pa.string(), nullable=False),
        pa.field("timezone", pa.string(), nullable=False),
    ]
)


def empty(schema: pa.Schema) -> pa.Table:
    """A zero-row table with every column of ``schema``."""
    return schema.empty_table()
