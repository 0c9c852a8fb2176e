"""The hostile-input corpus: one builder per class of input a user (or a broken tool) can hand in.

Each case is a file (or .zip) that holds, where the class allows it, valid plays *beside* the
hostile content, so a test can check both halves of the rule: the bad part is a quarantine row
with its reason, and the rest of the same file lands.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GOOD_ID = "4iV5W9uYEdYUVa79Axb7Rh"


def good_row(i: int = 0) -> dict[str, Any]:
    """A real-shaped extended-history row (Streaming_History_Audio_*, 2023 schema)."""
    return {
        "ts": f"2023-03-0{1 + i % 9}T10:{i % 60:02d}:00Z",
        "platform": "android",
        "ms_played": 180_000 + i,
        "conn_country": "DE",
        "master_metadata_track_name": f"Song {i}",
        "master_metadata_album_artist_name": "Artist",
        "master_metadata_album_album_name": "Album",
        "spotify_track_uri": f"spotify:track:{GOOD_ID[:-2]}{i:02d}",
        "reason_start": "trackdone",
        "reason_end": "trackdone",
        "shuffle": False,
        "skipped": False,
        "offline": False,
        "incognito_mode": False,
    }


def _with(**changes: Any) -> bytes:
    """A file of one valid row and one row with ``changes``."""
    return json.dumps([good_row(0), {**good_row(1), **changes}]).encode()


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def _good_file(i: int = 0) -> bytes:
    return json.dumps([good_row(10 + i)]).encode()


def _nested(depth: int) -> bytes:
    data = _zip(
        [("Spotify Extended Streaming History/Streaming_History_Audio_2023_0.json", _good_file())]
    )
    for _ in range(depth - 1):
        data = _zip([("my_spotify_data.zip", data)])
    return data


def _countless(entries: int) -> bytes:
    """A small zip listing ``entries`` empty streaming-history files and one real one: each
    listed entry costs memory to list and time to read, whatever its size."""
    members = [(f"endsong_{i}.json", b"[]") for i in range(entries)]
    return _zip([(EXT.format(9), _good_file()), *members])


def _bomb(path: Path, size_mb: int, extra: bool) -> None:
    """A real zip bomb: ``size_mb`` MB of spaces deflated (~1000x), streamed to disk."""
    chunk = b" " * (1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        if extra:
            zf.writestr("Streaming_History_Audio_2023_1.json", _good_file())
        info = zipfile.ZipInfo("Streaming_History_Audio_2023_0.json")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as out:
            for _ in range(size_mb):
                out.write(chunk)


@dataclass(frozen=True)
class Case:
    """One hostile input: its file name, how to make it, what the user must see."""

    id: str
    name: str
    make: Callable[[Path], None]
    reason: str | None  # a quarantine reason must contain this (None: nothing quarantined)
    landed: int  # plays of this file that must reach staged data
    no_export: bool = False


def _bytes(data: bytes | Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda p: p.write_bytes(data() if callable(data) else data)


EXT = "Streaming_History_Audio_2023_{}.json"
CASES = [
    Case("year_9999", EXT.format(1), _bytes(_with(ts="9999-12-31T23:59:59Z")), "in the future", 1),
    Case("far_future", EXT.format(2), _bytes(_with(ts="2070-01-01T00:00:00Z")), "in the future", 1),
    Case(
        "before_spotify",
        EXT.format(3),
        _bytes(_with(ts="1999-01-01T00:00:00Z")),
        "before Spotify",
        1,
    ),
    Case("ms_negative", EXT.format(4), _bytes(_with(ms_played=-1)), "negative", 1),
    Case("ms_int64_max", EXT.format(5), _bytes(_with(ms_played=2**63 - 1)), "more than a day", 1),
    Case("ms_over_a_day", EXT.format(6), _bytes(_with(ms_played=86_400_001)), "more than a day", 1),
    Case("ms_over_uint64", EXT.format(7), _bytes(_with(ms_played=2**70)), "more than a day", 1),
    Case(
        "huge_string",
        EXT.format(8),
        _bytes(_with(master_metadata_track_name="x" * 1_000_000)),
        "characters long",
        1,
    ),
    Case(
        "account_year_9999",
        "StreamingHistory_music_9.json",
        _bytes(
            json.dumps(
                [
                    {
                        "endTime": "2023-01-01 10:00",
                        "artistName": "A",
                        "trackName": "T",
                        "msPlayed": 1000,
                    },
                    {
                        "endTime": "9999-12-31 23:59",
                        "artistName": "A",
                        "trackName": "T",
                        "msPlayed": 1000,
                    },
                ]
            ).encode()
        ),
        "in the future",
        1,
    ),
    Case(
        "nested_json",
        EXT.format(10),
        _bytes(b"[" * 200_000 + b"]" * 200_000),
        "nested too deeply",
        0,
    ),
    Case("non_json", EXT.format(11), _bytes(b"<html>Spotify is down</html>"), "not valid JSON", 0),
    Case("truncated_json", EXT.format(12), _bytes(lambda: _with()[:-20]), "not valid JSON", 0),
    Case(
        "object_not_list",
        EXT.format(13),
        _bytes(b'{"ts": "2023-01-01T00:00:00Z"}'),
        "expected a JSON list",
        0,
    ),
    Case("wrong_keys", EXT.format(14), _bytes(b'[{"foo": 1}]'), "neither", 0),
    Case("not_utf8", EXT.format(15), _bytes(b'[{"ts": "\xff\xfe"}]'), "not UTF-8", 0),
    Case(
        "row_not_object",
        EXT.format(16),
        _bytes(json.dumps([good_row(0), [1, 2], "x"]).encode()),
        "not an object",
        1,
    ),
    Case("bom", EXT.format(17), _bytes(lambda: b"\xef\xbb\xbf" + _with()), None, 2),
    # Re-saved in Windows Notepad as "Unicode" (UTF-16 LE with its mark), and as UTF-32 BE.
    Case("utf16", EXT.format(20), _bytes(lambda: _with().decode().encode("utf-16")), None, 2),
    Case("gzip", EXT.format(22), _bytes(lambda: gzip.compress(_with())), "a gzip file", 0),
    Case("zip_as_json", EXT.format(23), _bytes(lambda: _nested(1)), "give it a .zip name", 0),
    Case(
        "utf32",
        EXT.format(21),
        _bytes(lambda: b"\x00\x00\xfe\xff" + _with().decode().encode("utf-32-be")),
        None,
        2,
    ),
    # A track URI without a title, and a local file's URI without one: plays (the catalogue
    # names the first once enriched); before, 'not_null' on the ranked items' names failed
    # the whole build.
    Case(
        "track_without_name",
        EXT.format(18),
        _bytes(
            _with(
                master_metadata_track_name=None,
                spotify_track_uri=f"spotify:track:{GOOD_ID[:-2]}98",
            )
        ),
        None,
        2,
    ),
    Case(
        "local_file_without_name",
        EXT.format(19),
        _bytes(
            _with(
                master_metadata_track_name=None,
                spotify_track_uri="spotify:local:Artist:Album::180",
            )
        ),
        None,
        2,
    ),
    Case(
        "zip_bomb_1gb",
        "bomb_1gb.zip",
        lambda p: _bomb(p, 1024, extra=True),
        "over import.max_file_mb",
        1,
    ),
    Case("zip_ratio", "bomb_ratio.zip", lambda p: _bomb(p, 64, extra=True), "zip bomb", 1),
    Case(
        "zip_same_names",
        "same_names.zip",
        _bytes(
            lambda: _zip(
                [
                    (
                        "Spotify Extended Streaming History/Streaming_History_Audio_2023_0.json",
                        _good_file(0),
                    ),
                    (
                        "Spotify Extended Streaming History/Streaming_History_Audio_2023_0.json",
                        _good_file(1),
                    ),
                ]
            )
        ),
        None,
        2,
    ),
    Case("zip_in_zip", "wrapper.zip", _bytes(lambda: _nested(2)), None, 1),
    Case(
        "zip_countless_entries",
        "countless.zip",
        _bytes(lambda: _countless(5000)),
        "over import.max_zip_entries",
        0,
    ),
    Case(
        "zip_in_zip_countless_entries",
        "wrapper_countless.zip",
        _bytes(lambda: _zip([(EXT.format(0), _good_file()), ("inner.zip", _countless(2500))])),
        "inner.zip: lists 2,501 entries, over import.max_zip_entries",
        1,
    ),
    Case("zip_too_deep", "deep.zip", _bytes(lambda: _nested(6)), "nested deeper", 0),
    Case(
        "zip_corrupt",
        "corrupt.zip",
        _bytes(b"PK\x03\x04 this is not a zip"),
        "not a readable zip",
        0,
    ),
    Case(
        "zip_no_export",
        "no_export.zip",
        _bytes(lambda: _zip([("ReadMeFirst.pdf", b"%PDF-1.4"), ("Userdata.json", b"{}")])),
        "no Spotify streaming-history file",
        0,
        no_export=True,
    ),
]
