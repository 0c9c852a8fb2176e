"""One Arrow schema per staged dataset: the contract between tasks and dbt sources.

Writers build their tables with these schemas, so a zero-row day still has every column and
DuckDB's ``union_by_name`` sees consistent types across partitions.
"""

from __future__ import annotations

import pyarrow as pa

from pipeline.paths import DBT_DATED_DATASETS

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


# ---------------------------------------------------------------------------------------------
# Enrichment lookups: each partition holds the lookups made on that day's run
# (staged/lookups/<dataset>/v1/date=D/part-0.parquet); dbt keeps the latest per entity.
# `status` is one of found, not_found, failed; `fetched_at` is UTC.
# ---------------------------------------------------------------------------------------------

_LOOKUP_COMMON = [
    pa.field("status", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),  # e.g. spotify_api, recently_played
    pa.field("fetched_at", UTC_MS, nullable=False),
]

SPOTIFY_TRACKS = pa.schema(
    [
        pa.field("track_id", pa.string(), nullable=False),
        pa.field("track_name", pa.string()),
        pa.field("isrc", pa.string()),
        pa.field("album_id", pa.string()),
        pa.field("artist_ids", pa.list_(pa.string())),
        pa.field("artist_names", pa.list_(pa.string())),
        pa.field("duration_ms", pa.int64()),
        pa.field("track_number", pa.int64()),
        pa.field("disc_number", pa.int64()),
        pa.field("popularity", pa.int64()),
        pa.field("is_explicit", pa.bool_()),
        *_LOOKUP_COMMON,
    ]
)

SPOTIFY_ALBUMS = pa.schema(
    [
        pa.field("album_id", pa.string(), nullable=False),
        pa.field("album_name", pa.string()),
        pa.field("album_type", pa.string()),
        pa.field("artist_ids", pa.list_(pa.string())),
        pa.field("release_date", pa.string()),
        pa.field("release_date_precision", pa.string()),
        pa.field("total_tracks", pa.int64()),
        pa.field("label", pa.string()),
        pa.field("upc", pa.string()),
        *_LOOKUP_COMMON,
    ]
)

SPOTIFY_ARTISTS = pa.schema(
    [
        pa.field("artist_id", pa.string(), nullable=False),
        pa.field("artist_name", pa.string()),
        pa.field("genres", pa.list_(pa.string())),
        pa.field("popularity", pa.int64()),
        pa.field("followers", pa.int64()),
        *_LOOKUP_COMMON,
    ]
)

MB_TAG = pa.struct([pa.field("name", pa.string()), pa.field("count", pa.int64())])

MUSICBRAINZ_ARTISTS = pa.schema(
    [
        # What we looked up: a Spotify artist ID when known, else "name:<case-folded name>".
        pa.field("lookup_key", pa.string(), nullable=False),
        pa.field("spotify_artist_id", pa.string()),
        pa.field("query_name", pa.string()),
        pa.field("mbid", pa.string()),
        pa.field("artist_name", pa.string()),
        pa.field("sort_name", pa.string()),
        pa.field("artist_type", pa.string()),
        pa.field("gender", pa.string()),
        pa.field("country", pa.string()),
        pa.field("area_name", pa.string()),
        pa.field("area_iso", pa.string()),
        pa.field("begin_area_name", pa.string()),
        pa.field("begin_area_iso", pa.string()),
        # Area types ("City", "Country"...) and the origin's place key, from geo.origin_of:
        # the one definition of the key, which dbt joins on as is (issue 13).
        pa.field("area_type", pa.string()),
        pa.field("begin_area_type", pa.string()),
        pa.field("origin_place_key", pa.string()),
        pa.field("life_begin", pa.string()),
        pa.field("life_end", pa.string()),
        pa.field("is_ended", pa.bool_()),
        pa.field("tags", pa.list_(MB_TAG)),
        pa.field("genres", pa.list_(MB_TAG)),
        # url_relation, isrc, name_search; score 0-100 (100 for exact identifiers).
        pa.field("match_method", pa.string()),
        pa.field("match_score", pa.int64()),
        # Why a lookup matched or did not (e.g. "ambiguous: 3 artists named 'Dynamo'"), issue 4.
        pa.field("match_note", pa.string()),
        *_LOOKUP_COMMON,
    ]
)

GEO_PLACES = pa.schema(
    [
        # What we geocoded: "<area name>|<ISO code or empty>".
        pa.field("place_key", pa.string(), nullable=False),
        pa.field("query", pa.string()),
        pa.field("latitude", pa.float64()),
        pa.field("longitude", pa.float64()),
        pa.field("city", pa.string()),
        pa.field("region", pa.string()),
        pa.field("country", pa.string()),
        pa.field("country_code", pa.string()),
        pa.field("display_name", pa.string()),
        pa.field("osm_type", pa.string()),
        pa.field("osm_id", pa.int64()),
        *_LOOKUP_COMMON,
    ]
)

# Gaps detected by polling: a poll returned a full page whose oldest play is newer than the
# stored cursor, so plays between cursor and that play may be missing.
POLL_GAPS = pa.schema(
    [
        pa.field("account", pa.string(), nullable=False),
        pa.field("gap_start", UTC_MS, nullable=False),
        pa.field("gap_end", UTC_MS, nullable=False),
        pa.field("detected_at", UTC_MS, nullable=False),
        pa.field("poll_file", pa.string()),
    ]
)

#: Dated datasets dbt reads (``paths.DBT_DATED_DATASETS``, under staged/<dir>/v1/date=D/); each
#: gets an empty placeholder partition when nothing was written yet, so dbt sources resolve.
DATED_DATASETS: dict[str, pa.Schema] = dict(
    zip(
        DBT_DATED_DATASETS,
        (
            SPOTIFY_TRACKS,
            SPOTIFY_ALBUMS,
            SPOTIFY_ARTISTS,
            MUSICBRAINZ_ARTISTS,
            GEO_PLACES,
            POLL_GAPS,
        ),
        strict=True,
    )
)
