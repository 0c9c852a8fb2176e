"""Parse ``GET /me/player/recently-played`` responses into plays, quarantine rows and gaps.

Pure functions: JSON in, Arrow tables out; no files, clock or network.

* Each item becomes one ``schemas.PLAYS`` row: ``source="api"``, ``ts_precision="ms"``,
  ``played_at`` = the item's ``played_at`` (roughly when playback *ended*, like the export's
  ``ts``), names of the track, its first artist and its album, ``is_local`` for local files
  (which have no Spotify ID, so their key falls back to the names). The API does not say how
  long the track was heard, so ``ms_played`` is the track's ``duration_ms`` (an upper bound;
  only plays over 30 s are listed). A richer export row of the same play wins in dedupe.
* An item that cannot become a play (``track: null`` for a removed track, no ``played_at``,
  a track without ID that is not a local file) becomes a ``schemas.QUARANTINE`` row with the
  reason and the original item. The export parser's rules hold here too (one rule for every
  input): ``played_at`` inside Spotify's era and not after the poll's clock + margin (a stamp
  in year 9999 would otherwise stage a day partition there, fail dbt's future test at every
  build and, as the cursor, hide every later gap), ``duration_ms`` at most a day, names at most
  ``MAX_TEXT`` characters of valid Unicode, IDs in Spotify's form (22 base62 characters).
* ``detect_gap``: a full page (50 items, the most the API returns) whose oldest play is newer
  than the stored cursor means plays between the two may be lost; it yields a ``POLL_GAPS`` row.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from pipeline import schemas
from pipeline.transform.export import (
    MAX_MS_PLAYED,
    Limits,
    check_text,
    check_time,
    record_text,
)
from pipeline.transform.keys import content_key, play_id
from pipeline.transform.spotify_catalogue import is_spotify_id

SOURCE = "api"


class PollFormatError(ValueError):
    """The response as a whole is not a recently-played page."""


@dataclass(frozen=True)
class ParsedPoll:
    """What one response yielded."""

    plays: pa.Table
    quarantine: pa.Table
    items: int
    #: Oldest and newest ``played_at`` (ms since epoch) of all items, parsable or not.
    oldest_ms: int | None
    newest_ms: int | None


def parse_played_at(value: Any) -> dt.datetime:
    """``2023-09-22T15:43:33.750Z`` (ms or not) as an aware UTC datetime; ValueError if not."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"played_at missing or not text: {value!r}")
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError as exc:  # year 1 at +01:00 has no UTC time
        raise ValueError(f"played_at out of range: {value!r}") from exc


def epoch_ms(when: dt.datetime) -> int:
    return int(round(when.timestamp() * 1000))


def _text(value: Any, key: str) -> str | None:
    """A name as text (trimmed; blank or not text means absent); ValueError if hostile."""
    if not isinstance(value, str):
        return None
    check_text(value, key)
    return value.strip() or None


def _spotify_id(value: Any, kind: str) -> str | None:
    """A track or episode ID; ValueError unless it has Spotify's form."""
    if value is None or value == "":
        return None
    if not is_spotify_id(value):
        raise ValueError(f"{kind} id is not a Spotify ID: {str(value)[:40]!r}")
    return value


def _play_row(item: Mapping[str, Any], played_at: dt.datetime) -> dict[str, Any]:
    """One play from an item; raises ValueError with the quarantine reason."""
    track = item.get("track")
    if track is None:
        raise ValueError("track is null (removed or unavailable)")
    if not isinstance(track, Mapping):
        raise ValueError(f"track is a {type(track).__name__}, not an object")
    kind = track.get("type") or "track"
    artists = track.get("artists")
    artists = artists if isinstance(artists, list) else []
    first_artist = artists[0] if artists and isinstance(artists[0], Mapping) else {}
    album = track.get("album")
    album = album if isinstance(album, Mapping) else {}
    duration = track.get("duration_ms")
    if isinstance(duration, bool) or not isinstance(duration, int) or duration < 0:
        duration = 0
    if duration > MAX_MS_PLAYED:
        raise ValueError(f"duration_ms is more than a day ({duration} ms > {MAX_MS_PLAYED})")
    # ``is_local`` is a JSON boolean; only ``true`` (or a spotify:local: URI) makes a local
    # file, whose play is keyed by its names instead of its ID ("yes" is not true).
    is_local = track.get("is_local") is True or str(track.get("uri") or "").startswith(
        "spotify:local:"
    )
    row: dict[str, Any] = {
        "played_at": played_at,
        "ms_played": duration,
        "ts_precision": "ms",
        "is_local": is_local,
    }
    name = _text(track.get("name"), "name")
    if kind not in ("track", "episode"):
        raise ValueError(f"unsupported item type {str(kind)[:40]!r}")
    spotify_id = None if is_local else _spotify_id(track.get("id"), kind)
    if kind == "episode":
        show = track.get("show")
        show = show if isinstance(show, Mapping) else {}
        if not spotify_id:
            raise ValueError("episode without an id")
        row.update(
            content_type="podcast",
            episode_id=spotify_id,
            episode_name=name,
            show_name=_text(show.get("name"), "show.name"),
        )
        return row
    if not spotify_id and not is_local:
        raise ValueError("track without an id that is not a local file (removed track?)")
    if is_local and not name:
        raise ValueError("local file without a name")
    row.update(
        content_type="music",
        track_id=None if is_local else spotify_id,
        track_name=name,
        artist_name=_text(first_artist.get("name"), "artists[0].name"),
        album_name=_text(album.get("name"), "album.name"),
    )
    return row


def items_of(payload: Any) -> list[Any]:
    """The ``items`` list of a page; PollFormatError if the shape is wrong."""
    if not isinstance(payload, Mapping):
        raise PollFormatError(f"expected a JSON object, found a {type(payload).__name__}")
    items = payload.get("items")
    if not isinstance(items, list):
        raise PollFormatError("response has no 'items' list")
    return items


def parse_recently_played(
    payload: Any, account: str, source_file: str, limits: Limits | None = None
) -> ParsedPoll:
    """Every item of one page as plays or quarantine rows (newest first, as received).

    ``limits`` is the time window from the poll's clock (``Limits.at(fetched_at, margin)``, so
    replaying a kept response gives the same result); default: the system clock. Only stamps
    inside it count as the page's oldest and newest (the cursor and the gap check).
    """
    limits = limits or Limits.at()
    items = items_of(payload)
    plays: list[dict[str, Any]] = []
    quarantine: list[dict[str, Any]] = []
    stamps: list[int] = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, Mapping):
                raise ValueError(f"item is a {type(item).__name__}, not an object")
            try:
                played_at = parse_played_at(item.get("played_at"))
            except ValueError as exc:
                raise ValueError(f"bad played_at: {exc}") from exc
            check_time(played_at, "played_at", limits)
            stamps.append(epoch_ms(played_at))
            row = _play_row(item, played_at)
        except ValueError as exc:
            quarantine.append(
                {
                    "account": account,
                    "source": SOURCE,
                    "source_file": source_file,
                    "source_row": index,
                    "reason": str(exc),
                    "record": record_text(item),
                }
            )
            continue
        row.update(account=account, source=SOURCE, source_file=source_file, source_row=index)
        row["play_id"] = play_id(
            account,
            epoch_ms(played_at),
            content_key(
                row.get("track_id"),
                row.get("episode_id"),
                None,
                row.get("artist_name") or row.get("show_name"),
                row.get("track_name") or row.get("episode_name"),
            ),
        )
        plays.append(row)
    return ParsedPoll(
        plays=pa.Table.from_pylist(plays, schema=schemas.PLAYS),
        quarantine=pa.Table.from_pylist(quarantine, schema=schemas.QUARANTINE),
        items=len(items),
        oldest_ms=min(stamps) if stamps else None,
        newest_ms=max(stamps) if stamps else None,
    )


def quarantine_key(row: Mapping[str, Any]) -> str:
    """Identity of a quarantined item across polls (the same removed track stays listed)."""
    try:
        item = json.loads(row.get("record") or "null")
    except ValueError:
        item = None
    when = item.get("played_at") if isinstance(item, Mapping) else None
    return f"{row.get('account')}|{when}|{row.get('reason')}"


def detect_gap(
    parsed: ParsedPoll,
    account: str,
    cursor_ms: int | None,
    page_limit: int,
    detected_at: dt.datetime,
    poll_file: str,
) -> pa.Table:
    """A POLL_GAPS row when a full page starts after the cursor (plays may be lost), else none.

    No cursor (the first poll) is not a gap: nothing was promised before it.
    """
    rows = []
    if (
        cursor_ms is not None
        and parsed.items >= page_limit
        and parsed.oldest_ms is not None
        and parsed.oldest_ms > cursor_ms
    ):
        rows.append(
            {
                "account": account,
                "gap_start": dt.datetime.fromtimestamp(cursor_ms / 1000, dt.UTC),
                "gap_end": dt.datetime.fromtimestamp(parsed.oldest_ms / 1000, dt.UTC),
                "detected_at": detected_at,
                "poll_file": poll_file,
            }
        )
    return pa.Table.from_pylist(rows, schema=schemas.POLL_GAPS)


def new_plays(plays: pa.Table, known_ids: set[str]) -> pa.Table:
    """Plays whose ``play_id`` was not landed before (overlapping polls repeat most items)."""
    seen = set(known_ids)
    keep = []
    for pid in plays["play_id"].to_pylist():
        keep.append(pid not in seen)
        seen.add(pid)
    return plays.filter(pa.array(keep, pa.bool_()))
