"""Parse Spotify's data-export files into plays and quarantine rows.

Two families of export exist, and the importer reads both:

* *Extended streaming history* (``Streaming_History_Audio_*.json``, older ``endsong_*.json``,
  ``Streaming_History_Video_*.json``): one object per play with ``ts`` (UTC, when playback
  ended, second precision), ``ms_played``, track/episode/audiobook metadata and URIs, reasons,
  shuffle, skipped, offline and incognito flags.
* *Account data* (``StreamingHistory*.json``, ``StreamingHistory_music_*.json``,
  ``StreamingHistory_podcast_*.json``): ``endTime`` as ``YYYY-MM-DD HH:MM`` (UTC, minute
  precision), ``msPlayed`` and names only (``artistName``/``trackName`` or
  ``podcastName``/``episodeName``).

A row that cannot become a play becomes a quarantine row with the reason and the original
record, so nothing is dropped silently. A file that is not a JSON list of objects raises
``ExportFormatError`` naming the problem; the caller quarantines the whole file and goes on.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipeline import schemas
from pipeline.transform.clean import text_problem
from pipeline.transform.keys import content_key, play_id

_TRACK_URI = re.compile(r"^spotify:track:([0-9A-Za-z]{22})$")
_EPISODE_URI = re.compile(r"^spotify:episode:([0-9A-Za-z]{22})$")
_AUDIOBOOK_URI = re.compile(r"^spotify:(?:audiobook|show):([0-9A-Za-z]{22})$")
_CHAPTER_URI = re.compile(r"^spotify:(?:chapter|episode):([0-9A-Za-z]{22})$")
_LOCAL_URI = re.compile(r"^spotify:local:")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

#: The range rule, checked where each row is parsed (one rule for both parsers). Spotify was
#: founded in 2006 (the service opened in 2008): an earlier time is a corrupt row, not a play.
SPOTIFY_ERA = dt.datetime(2006, 1, 1, tzinfo=dt.UTC)
#: A play lasts at most a day: ``ms_played`` beyond that is not a play (and 2^63-1 ms is not an
#: interval DuckDB can hold, so dbt's staging would fail on it).
MAX_MS_PLAYED = 86_400_000

EXTENDED_KEYS = frozenset({"ts", "ms_played"})
ACCOUNT_KEYS = frozenset({"endTime", "msPlayed"})
#: Keys that only one of the two formats has. A row missing ``ts`` or ``ms_played`` is still
#: recognisably an extended-history row by its other keys; it is quarantined for the missing
#: field, and the rest of its file is read, instead of the whole file being refused.
EXTENDED_MARKERS = EXTENDED_KEYS | {
    "master_metadata_track_name",
    "master_metadata_album_artist_name",
    "master_metadata_album_album_name",
    "spotify_track_uri",
    "spotify_episode_uri",
    "episode_name",
    "episode_show_name",
    "conn_country",
    "reason_start",
    "reason_end",
}
ACCOUNT_MARKERS = ACCOUNT_KEYS | {"artistName", "trackName"}


class ExportFormatError(ValueError):
    """The file as a whole is not a Spotify export (bad JSON, wrong shape)."""


@dataclass(frozen=True)
class Limits:
    """The time window a play must fall in: Spotify's era up to the import's clock + margin.

    ``latest`` comes from the import's clock (``import.max_future_minutes`` ahead of it), so
    a row decades ahead is quarantined instead of failing dbt's ``assert_no_play_in_future``
    on every later build. Both parsers take the same instance, so they always agree.
    """

    latest: dt.datetime
    earliest: dt.datetime = SPOTIFY_ERA

    @classmethod
    def at(cls, now: dt.datetime | None = None, margin_minutes: int = 60) -> Limits:
        """Limits for an import whose clock reads ``now`` (default: the system clock)."""
        now = now or dt.datetime.now(dt.UTC)
        return cls(latest=now.astimezone(dt.UTC) + dt.timedelta(minutes=margin_minutes))


@dataclass
class ParsedExport:
    """What one file yielded: plays, quarantined rows, and the format recognised."""

    kind: str
    plays: pa.Table
    quarantine: pa.Table
    rows_read: int = 0
    notes: list[str] = field(default_factory=list)


class _Columns:
    """Column-wise accumulator for an Arrow table (much cheaper than a list of dicts)."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.cols: dict[str, list[Any]] = {name: [] for name in schema.names}

    def add(self, row: Mapping[str, Any]) -> None:
        for name, values in self.cols.items():
            values.append(row.get(name))

    def table(self) -> pa.Table:
        arrays = [pa.array(self.cols[f.name], type=f.type) for f in self.schema]
        return pa.Table.from_arrays(arrays, schema=self.schema)


#: Byte-order marks of the encodings a re-saved export may be in, longest first (UTF-32 LE's
#: starts with UTF-16 LE's). Spotify writes UTF-8; Windows Notepad's "Unicode" is UTF-16 LE.
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


#: Leading bytes of the packed formats an export is sometimes kept in, with a name for each.
_PACKED = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip"),
    (b"PK\x03\x04", "zip"),
)


def load_json(data: bytes, name: str) -> list[Any]:
    """Decode a file's bytes into the list of records, or raise ExportFormatError.

    UTF-8, or UTF-16/32 when the file starts with their byte-order mark (an export opened and
    saved again in Windows Notepad as "Unicode"); without a mark, anything but UTF-8 is refused.
    A packed file under an export's name (``endsong_0.json.gz`` renamed, a zip saved as .json)
    is named for what it is, not as "not UTF-8 text".
    """
    packed = next((kind for magic, kind in _PACKED if data.startswith(magic)), None)
    if packed is not None:
        hint = "give it a .zip name" if packed == "zip" else "unpack it first"
        raise ExportFormatError(f"{name}: a {packed} file, not JSON text: {hint}")
    codec = next((c for bom, c in _BOMS if data.startswith(bom)), "utf-8")
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise ExportFormatError(
            f"{name}: not {codec.upper().removesuffix('-SIG')} text "
            f"({exc.reason} at byte {exc.start})"
        ) from exc
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExportFormatError(
            f"{name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "the file may be truncated"
        ) from exc
    except RecursionError as exc:
        raise ExportFormatError(f"{name}: JSON nested too deeply to be an export") from exc
    except Exception as exc:  # noqa: BLE001 - whatever the parser raises, the file is refused
        raise ExportFormatError(f"{name}: unreadable JSON ({type(exc).__name__}: {exc})") from exc
    if not isinstance(records, list):
        raise ExportFormatError(
            f"{name}: expected a JSON list of plays, found a {type(records).__name__}"
        )
    return records


def kind_of_keys(keys: Iterable[str]) -> str | None:
    """'extended' or 'account' when a row's keys say which format it belongs to, else None."""
    keys = set(keys)
    if EXTENDED_KEYS <= keys:
        return "extended"
    if ACCOUNT_KEYS <= keys:
        return "account"
    extended, account = len(keys & EXTENDED_MARKERS), len(keys & ACCOUNT_MARKERS)
    if extended > account:
        return "extended"
    if account > extended:
        return "account"
    return None


def detect_kind(records: Iterable[Any], name: str) -> str:
    """'extended' or 'account', from the first object whose keys tell; 'empty' without one."""
    first: set[str] | None = None
    for record in records:
        if not isinstance(record, Mapping):
            continue
        kind = kind_of_keys(str(key) for key in record)
        if kind is not None:
            return kind
        if first is None:
            first = {str(key) for key in record}
    if first is None:
        return "empty"
    raise ExportFormatError(
        f"{name}: rows have neither 'ts'/'ms_played' (extended streaming history) nor "
        f"'endTime'/'msPlayed' (account data); first row's keys: {sorted(first)[:8]}"
    )


def parse_export(
    data: bytes, name: str, account: str, limits: Limits | None = None
) -> ParsedExport:
    """Parse one export file's bytes for ``account``. Pure: no I/O.

    This is the reference parser: every row goes through Python. ``parse_export_file`` gives
    the same result much faster for files on disk and falls back to this one when in doubt.
    """
    limits = limits or Limits.at()
    records = load_json(data, name)
    kind = detect_kind(records, name)
    plays = _Columns(schemas.PLAYS)
    quarantine = _Columns(schemas.QUARANTINE)
    for index, record in enumerate(records):
        kept, row = parse_record(record, index, kind, name, account, limits)
        (plays if kept else quarantine).add(row)
    return ParsedExport(
        kind=kind, plays=plays.table(), quarantine=quarantine.table(), rows_read=len(records)
    )


def parse_record(
    record: Any, index: int, kind: str, name: str, account: str, limits: Limits | None = None
) -> tuple[bool, dict[str, Any]]:
    """One row of a file: ``(True, play)`` or ``(False, quarantine row with the reason)``."""
    source = "export_extended" if kind == "extended" else "export_account"
    limits = limits or Limits.at()
    try:
        if not isinstance(record, Mapping):
            raise _RowError(f"row is a {type(record).__name__}, not an object")
        if kind == "extended":
            row = _extended_row(record)
        else:
            row = _account_row(record, "podcast" in name.lower())
        check_time(row["played_at"], "ts" if kind == "extended" else "endTime", limits)
    except _RowError as exc:
        return False, {
            "account": account,
            "source": source,
            "source_file": name,
            "source_row": index,
            "reason": str(exc),
            "record": record_text(record),
        }
    row.update(account=account, source=source, source_file=name, source_row=index)
    played_ms = int((row["played_at"] - _EPOCH).total_seconds() * 1000)
    row["play_id"] = play_id(
        account,
        played_ms,
        content_key(
            row.get("track_id"),
            row.get("episode_id"),
            row.get("audiobook_chapter_id"),
            row.get("artist_name") or row.get("show_name"),
            row.get("track_name") or row.get("episode_name"),
        ),
    )
    return True, row


def check_time(played_at: dt.datetime, key: str, limits: Limits) -> None:
    """The range rule for times: inside Spotify's era, not after the reader's clock + margin.

    Shared with the recently-played parser, whose clock is the poll's.
    """
    if played_at < limits.earliest:
        raise _RowError(
            f"field {key!r} ({played_at:%Y-%m-%d %H:%M:%S}) is before Spotify existed "
            f"({limits.earliest:%Y-%m-%d})"
        )
    if played_at > limits.latest:
        raise _RowError(
            f"field {key!r} ({played_at:%Y-%m-%d %H:%M:%S}) is in the future "
            f"(after {limits.latest:%Y-%m-%d %H:%M:%S} UTC, "
            "the clock of the run that read it + margin)"
        )


def record_text(record: Any) -> str:
    """The original record as JSON for the quarantine (escaped if it is not valid Unicode).

    Shared with the recently-played parser.
    """
    if isinstance(record, str):
        return record[:10_000]
    try:
        text = json.dumps(record, ensure_ascii=False, default=str)
    except (RecursionError, ValueError):
        return repr(record)[:10_000]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(record, ensure_ascii=True, default=str)
    return text[:10_000]


class _RowError(ValueError):
    """One row cannot become a play; the message is the quarantine reason."""


def _text(record: Mapping[str, Any], key: str) -> str | None:
    """A text field exactly as exported (trailing spaces kept); blank means absent."""
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _RowError(f"field {key!r} should be text, got {type(value).__name__}")
    check_text(value, key)
    if not value.strip():
        return None
    return value


def check_text(value: str, key: str) -> None:
    """The text rule of both parsers: at most ``MAX_TEXT`` characters, encodable as UTF-8.

    JSON may escape a lone surrogate (``"\\ud800"``); Python decodes it, and Parquet could not
    write it: the row is quarantined instead of failing the whole file or page.
    """
    problem = text_problem(value)
    if problem:
        raise _RowError(f"field {key!r} {problem}")


def _flag(record: Mapping[str, Any], key: str) -> bool | None:
    value = record.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise _RowError(f"field {key!r} should be true/false, got {value!r}")


def _ms(record: Mapping[str, Any], key: str) -> int:
    if key not in record or record[key] is None:
        raise _RowError(f"missing field {key!r}")
    value = record[key]
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value != int(value)
    ):
        raise _RowError(f"field {key!r} should be whole milliseconds, got {value!r}")
    if value < 0:
        raise _RowError(f"field {key!r} is negative ({value})")
    if value > MAX_MS_PLAYED:
        raise _RowError(f"field {key!r} is more than a day ({value} ms > {MAX_MS_PLAYED})")
    return int(value)


def _extended_ts(record: Mapping[str, Any]) -> dt.datetime:
    value = record.get("ts")
    if value is None or value == "":
        raise _RowError("missing field 'ts'")
    if not isinstance(value, str):  # a number (epoch seconds?) is not what Spotify writes
        raise _RowError(f"field 'ts' is not an ISO timestamp: {value!r}")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _RowError(f"field 'ts' is not an ISO timestamp: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError as exc:
        raise _RowError(f"field 'ts' is out of range: {value!r}") from exc


def _extended_row(record: Mapping[str, Any]) -> dict[str, Any]:
    played_at = _extended_ts(record)
    ms_played = _ms(record, "ms_played")
    track_uri = _text(record, "spotify_track_uri")
    episode_uri = _text(record, "spotify_episode_uri")
    audiobook_uri = _text(record, "audiobook_uri")
    chapter_uri = _text(record, "audiobook_chapter_uri")
    row: dict[str, Any] = {
        "played_at": played_at,
        "ms_played": ms_played,
        "ts_precision": "s",
        "track_name": _text(record, "master_metadata_track_name"),
        "artist_name": _text(record, "master_metadata_album_artist_name"),
        "album_name": _text(record, "master_metadata_album_album_name"),
        "episode_name": _text(record, "episode_name"),
        "show_name": _text(record, "episode_show_name"),
        "audiobook_title": _text(record, "audiobook_title"),
        "audiobook_chapter_title": _text(record, "audiobook_chapter_title"),
        "platform": _text(record, "platform"),
        "conn_country": _text(record, "conn_country"),
        "reason_start": _text(record, "reason_start"),
        "reason_end": _text(record, "reason_end"),
        "shuffle": _flag(record, "shuffle"),
        "skipped": _flag(record, "skipped"),
        "offline": _flag(record, "offline"),
        "incognito_mode": _flag(record, "incognito_mode"),
        "is_local": False,
    }
    if track_uri:
        match = _TRACK_URI.match(track_uri)
        if match:
            row.update(content_type="music", track_id=match.group(1))
        elif _LOCAL_URI.match(track_uri):
            row.update(content_type="music", is_local=True)
        else:
            raise _RowError(f"unrecognised track URI {track_uri!r}")
    elif episode_uri or row["episode_name"]:
        if episode_uri:
            match = _EPISODE_URI.match(episode_uri)
            if not match:
                raise _RowError(f"unrecognised episode URI {episode_uri!r}")
            row["episode_id"] = match.group(1)
        row["content_type"] = "podcast"
    elif audiobook_uri or chapter_uri or row["audiobook_title"]:
        if audiobook_uri:
            match = _AUDIOBOOK_URI.match(audiobook_uri)
            if not match:
                raise _RowError(f"unrecognised audiobook URI {audiobook_uri!r}")
            row["audiobook_id"] = match.group(1)
        if chapter_uri:
            match = _CHAPTER_URI.match(chapter_uri)
            if not match:
                raise _RowError(f"unrecognised audiobook chapter URI {chapter_uri!r}")
            row["audiobook_chapter_id"] = match.group(1)
        row["content_type"] = "audiobook"
    elif row["track_name"]:
        # A track with a name but no URI is a local file played through Spotify.
        row.update(content_type="music", is_local=True)
    else:
        raise _RowError("row names no track, episode or audiobook (nothing was played)")
    return row


def _account_row(record: Mapping[str, Any], podcast_file: bool) -> dict[str, Any]:
    value = record.get("endTime")
    if value is None or value == "":
        raise _RowError("missing field 'endTime'")
    if not isinstance(value, str):
        raise _RowError(f"field 'endTime' is not 'YYYY-MM-DD HH:MM': {value!r}")
    try:
        played_at = dt.datetime.strptime(value, "%Y-%m-%d %H:%M").replace(tzinfo=dt.UTC)
    except ValueError as exc:
        raise _RowError(f"field 'endTime' is not 'YYYY-MM-DD HH:MM': {value!r}") from exc
    row: dict[str, Any] = {
        "played_at": played_at,
        "ms_played": _ms(record, "msPlayed"),
        "ts_precision": "min",
        "is_local": False,
    }
    if "podcastName" in record or "episodeName" in record or podcast_file:
        show = _text(record, "podcastName") or _text(record, "artistName")
        episode = _text(record, "episodeName") or _text(record, "trackName")
        if not episode:
            raise _RowError("missing field 'episodeName'")
        row.update(content_type="podcast", show_name=show, episode_name=episode)
        return row
    track = _text(record, "trackName")
    artist = _text(record, "artistName")
    if not track:
        raise _RowError("missing field 'trackName'")
    row.update(content_type="music", track_name=track, artist_name=artist)
    return row


def file_quarantine(account: str, name: str, reason: str) -> pa.Table:
    """One quarantine row for a whole file (or archive) that yielded no rows, with the reason."""
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


def play_days(plays: pa.Table) -> list[str]:
    """The UTC days (ISO, sorted) a plays table covers: what an import unit's provenance lists."""
    days = pc.unique(pc.cast(plays["played_at"], pa.date32())).to_pylist()
    return sorted({d.isoformat() for d in days})
