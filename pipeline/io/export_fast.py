"""The fast path of the export importer: DuckDB reads the JSON, Python sees only odd rows.

``parse_export`` (export.py) is the reference: it loads a whole file into Python objects and
checks every row, ~20 µs a row, and holds the file's objects in memory (a ten-year export is
~1M rows in ~70 files). Here DuckDB streams the file (``read_json_objects``), extracts the
declared fields and decides *in SQL* whether a row is plainly valid: text fields are JSON
strings that are not blank and at most ``MAX_TEXT`` bytes, ``ts`` is ``YYYY-MM-DDTHH:MM:SSZ``
inside the import's ``Limits``, ``ms_played`` an integer from 0 to a day, flags booleans, and
the URIs are well formed. Those rows (all of them in
a normal export) become plays without Python touching them except to compute ``play_id``
(the same blake2b key as before). Every other row — a wrong type, a blank title, an audiobook,
a row that played nothing — goes through the reference ``parse_record``, so its quarantine
reason, and every row's outcome, is exactly what the reference parser gives. If DuckDB cannot
read the file at all (bad JSON, not a list, not UTF-8) or it is not an extended-history file,
the whole file goes to the reference parser, which names the problem.

It lives in io/ because it reads files (through DuckDB); the equivalence with the reference
parser is a property test (tests/unit/transform/test_export_properties.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import schemas
from pipeline.io.duck import sql_string
from pipeline.transform.clean import MAX_TEXT
from pipeline.transform.export import (
    ACCOUNT_KEYS,
    EXTENDED_KEYS,
    MAX_MS_PLAYED,
    Limits,
    ParsedExport,
    _Columns,
    parse_export,
    parse_record,
)
from pipeline.transform.keys import content_key, play_id

logger = logging.getLogger(__name__)

#: Export field -> plays column, for the text fields (JSON strings, blank -> null).
TEXT_FIELDS = {
    "master_metadata_track_name": "track_name",
    "master_metadata_album_artist_name": "artist_name",
    "master_metadata_album_album_name": "album_name",
    "episode_name": "episode_name",
    "episode_show_name": "show_name",
    "audiobook_title": "audiobook_title",
    "audiobook_chapter_title": "audiobook_chapter_title",
    "platform": "platform",
    "conn_country": "conn_country",
    "reason_start": "reason_start",
    "reason_end": "reason_end",
    "spotify_track_uri": "_track_uri",
    "spotify_episode_uri": "_episode_uri",
    "audiobook_uri": "_audiobook_uri",
    "audiobook_chapter_uri": "_chapter_uri",
}
FLAG_FIELDS = {
    "shuffle": "shuffle",
    "skipped": "skipped",
    "offline": "offline",
    "incognito_mode": "incognito_mode",
}
_FIELDS = ["ts", "ms_played", *TEXT_FIELDS, *FLAG_FIELDS]

# Python's str.strip() removes what str.isspace() calls whitespace; this RE2 class is that set.
_WS = r"[\t\n\x0b\x0c\r\x1c-\x1f \x{85}\p{Z}]"
_SEP = "\x01"
_TS = r"[0-9]{4}-(0[1-9]|1[0-2])-[0-3][0-9]T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z"
_ID = "[0-9A-Za-z]{22}"


def _ts_literal(value: dt.datetime) -> str:
    """A UTC instant as a naive DuckDB TIMESTAMP literal (what ``strptime`` returns)."""
    return "TIMESTAMP '" + value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f") + "'"


def _query(path: Path, limits: Limits) -> str:
    columns = ", ".join(f"{sql_string(f)}: 'JSON'" for f in _FIELDS)
    text_cols = [f"nullif(\"{f}\" ->> '$', '') as {c}" for f, c in TEXT_FIELDS.items()]
    types_ok = [f"coalesce(json_type(\"{f}\") in ('VARCHAR', 'NULL'), true)" for f in TEXT_FIELDS]
    types_ok += [f"coalesce(json_type(\"{f}\") in ('BOOLEAN', 'NULL'), true)" for f in FLAG_FIELDS]
    flag_cols = [
        f'case json_type("{f}") when \'BOOLEAN\' then "{f}"::boolean end as {c}'
        for f, c in FLAG_FIELDS.items()
    ]
    texts = ", ".join(f"\"{f}\" ->> '$'" for f in TEXT_FIELDS)
    # Bytes >= characters: a row passing on bytes passes the reference's character limit;
    # a longer one goes to the reference parser, which decides on characters.
    lengths_ok = " and ".join(
        f"coalesce(strlen(\"{f}\" ->> '$') <= {MAX_TEXT}, true)" for f in TEXT_FIELDS
    )
    return f"""
with typed as (
    select
        json_type(ts) = 'VARCHAR'
            and regexp_full_match(ts ->> '$', '{_TS}')
            and (ts ->> '$') >= '0001' as ts_ok,
        {" and ".join(types_ok)} as types_ok,
        not regexp_matches(
            concat_ws('{_SEP}', {texts}), '(^|{_SEP}){_WS}+($|{_SEP})'
        ) and {lengths_ok} as ws_ok,
        ts ->> '$' as ts_text,
        case when json_type(ms_played) = 'UBIGINT' then ms_played::ubigint end as ms_u,
        {", ".join(text_cols)},
        {", ".join(flag_cols)}
    from read_json({sql_string(str(path))}, format = 'array', columns = {{{columns}}})
),
classified as (
    select
        *,
        try_strptime(case when ts_ok then ts_text end, '%Y-%m-%dT%H:%M:%SZ') as ts_parsed,
        case
            when _track_uri is not null then
                case
                    when regexp_full_match(_track_uri, 'spotify:track:{_ID}') then 'music'
                    when starts_with(_track_uri, 'spotify:local:') then 'local'
                end
            when _episode_uri is not null or episode_name is not null then
                case
                    when _episode_uri is null then 'podcast'
                    when regexp_full_match(_episode_uri, 'spotify:episode:{_ID}') then 'podcast'
                end
            when _audiobook_uri is not null or _chapter_uri is not null
                or audiobook_title is not null then null
            when track_name is not null then 'local'
        end as kind
    from typed
)
select
    coalesce(ts_ok and types_ok and ws_ok and ms_u <= {MAX_MS_PLAYED}
        and ts_parsed >= {_ts_literal(limits.earliest)}
        and ts_parsed <= {_ts_literal(limits.latest)}
        and kind is not null, false) as fast,
    case when fast then epoch_ms(ts_parsed) end as played_ms,
    case when fast then ms_u::bigint end as ms_played,
    case when fast and kind = 'music' then substr(_track_uri, 15) end as track_id,
    case when fast and kind = 'podcast' then substr(_episode_uri, 17) end as episode_id,
    case when kind = 'local' then 'music' else kind end as content_type,
    coalesce(kind = 'local', false) as is_local,
    {", ".join(c for c in TEXT_FIELDS.values() if not c.startswith("_"))},
    {", ".join(FLAG_FIELDS.values())}
from classified
"""


def _raw_rows(con: duckdb.DuckDBPyConnection, path: Path, rows: list[int]) -> list[str]:
    """The original JSON text of the given rows (0-based), in the file's order."""
    found = con.execute(
        "select json from (select json, row_number() over () - 1 as i from "
        f"read_json_objects({sql_string(str(path))}, format = 'array')) "
        "where i in (select unnest(?::bigint[])) order by i",
        [rows],
    ).fetchall()
    if len(found) != len(rows):
        raise duckdb.InvalidInputException("row count differs between JSON readers")
    return [r[0] for r in found]


def detect_kind_sql(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    """'extended', 'account', 'other' or 'empty', from the first object's keys."""
    rows = con.execute(
        f"select json_keys(json) from read_json_objects({sql_string(str(path))}, "
        "format = 'array') where json_type(json) = 'OBJECT' limit 1"
    ).fetchall()
    if not rows:
        return "empty"
    keys = set(rows[0][0])
    if EXTENDED_KEYS <= keys:
        return "extended"
    if ACCOUNT_KEYS <= keys:
        return "account"
    # A first row missing a field, or something else: the reference parser decides row by row.
    return "other"


def parse_export_file(
    path: Path,
    name: str,
    account: str,
    con: duckdb.DuckDBPyConnection | None = None,
    limits: Limits | None = None,
) -> ParsedExport:
    """Parse an export file on disk; the same result as ``parse_export`` on its bytes."""
    limits = limits or Limits.at()
    own = con is None
    if con is None:
        from pipeline.io.duck import connect

        con = connect()
    try:
        try:
            kind = detect_kind_sql(con, path)
            if kind != "extended":
                return parse_export(path.read_bytes(), name, account, limits)
            result = con.sql(_query(path, limits)).to_arrow_table()
            slow_index = pc.indices_nonzero(pc.invert(result["fast"])).to_pylist()
            raw = _raw_rows(con, path, slow_index) if slow_index else []
        except (duckdb.Error, UnicodeError, RecursionError) as exc:
            # DuckDB refused the file or handed back text Python cannot decode (odd keys, or
            # nesting deeper than Python's recursion limit):
            # the reference parser gives the exact answer, rows and quarantine reasons.
            logger.debug("fast path declined %s (%s); using the reference parser", name, exc)
            return parse_export(path.read_bytes(), name, account, limits)
        return _assemble(result, raw, slow_index, name, account, limits)
    finally:
        if own:
            con.close()


def _assemble(
    result: pa.Table,
    slow: list[str],
    slow_index: list[int],
    name: str,
    account: str,
    limits: Limits,
) -> ParsedExport:
    n = result.num_rows
    fast_mask = result["fast"]
    fast = result.filter(fast_mask)
    fast_index = pc.indices_nonzero(fast_mask).cast(pa.int64())

    plays = _fast_plays(fast, fast_index, name, account)
    extra = _Columns(schemas.PLAYS)
    quarantine = _Columns(schemas.QUARANTINE)
    for raw, row_index in zip(slow, slow_index, strict=True):
        try:
            record: Any = json.loads(raw)
        except ValueError:
            record = raw  # not JSON Python reads: the reference parser quarantines it as text
        kept, row = parse_record(record, row_index, "extended", name, account, limits)
        (extra if kept else quarantine).add(row)
    if extra.cols["play_id"]:
        plays = pa.concat_tables([plays, extra.table()]).sort_by("source_row")
    return ParsedExport(kind="extended", plays=plays, quarantine=quarantine.table(), rows_read=n)


def _fast_plays(fast: pa.Table, index: pa.Array, name: str, account: str) -> pa.Table:
    n = fast.num_rows
    ms = fast["played_ms"].to_pylist()
    track_ids = fast["track_id"].to_pylist()
    episode_ids = fast["episode_id"].to_pylist()
    keys: list[str] = []
    need_names = pc.and_(pc.is_null(fast["track_id"]), pc.is_null(fast["episode_id"]))
    if pc.any(need_names).as_py():
        artists = pc.coalesce(fast["artist_name"], fast["show_name"]).to_pylist()
        titles = pc.coalesce(fast["track_name"], fast["episode_name"]).to_pylist()
        for t, e, a, ti in zip(track_ids, episode_ids, artists, titles, strict=True):
            keys.append(content_key(t, e, None, a, ti))
    else:
        keys = [
            f"track:{t}" if t else f"episode:{e}"
            for t, e in zip(track_ids, episode_ids, strict=True)
        ]
    ids = [play_id(account, m, k) for m, k in zip(ms, keys, strict=True)]
    null_str = pa.nulls(n, pa.string())
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "play_id": pa.array(ids, pa.string()),
        "account": pa.array([account] * n, pa.string()),
        "audiobook_id": null_str,
        "audiobook_chapter_id": null_str,
        "source": pa.array(["export_extended"] * n, pa.string()),
        "source_file": pa.array([name] * n, pa.string()),
        "ts_precision": pa.array(["s"] * n, pa.string()),
        "source_row": index,
        "played_at": pc.cast(fast["played_ms"], pa.int64()).cast(schemas.UTC_MS),
    }
    arrays = []
    for field in schemas.PLAYS:
        column = columns[field.name] if field.name in columns else fast[field.name]
        arrays.append(pc.cast(column, field.type))
    return pa.Table.from_arrays(arrays, schema=schemas.PLAYS)
