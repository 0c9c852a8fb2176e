"""Property-based tests of the export importer: arbitrary JSON never crashes it or loses a row."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.transform.export import ExportFormatError, parse_export
from pipeline.transform.export_fast import parse_export_file

#: Multiplies the examples per property: HYPOTHESIS_EXAMPLES_SCALE=20 for a long soak.
SCALE = int(os.environ.get("HYPOTHESIS_EXAMPLES_SCALE", "1"))
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

ids = st.text(alphabet=B62, min_size=22, max_size=22)
scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text()
any_json = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
timestamps = st.one_of(
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from(["2024-02-30T00:00:00Z", "2024-01-01T24:00:00Z", "", " 2024-01-01T00:00:00Z"]),
    st.text(max_size=25),
)
names = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["", "  ", " Song", "Song\u00a0", "Björk", "\x1fX"]),
    any_json,
)
uris = st.one_of(
    st.none(),
    ids.map(lambda i: f"spotify:track:{i}"),
    ids.map(lambda i: f"spotify:episode:{i}"),
    ids.map(lambda i: f"spotify:audiobook:{i}"),
    ids.map(lambda i: f"spotify:chapter:{i}"),
    st.just("spotify:local:Artist:Album:Title:200"),
    st.text(max_size=30),
    any_json,
)
flags = st.one_of(st.none(), st.booleans(), any_json)
ms = st.one_of(st.integers(0, 10**7), st.integers(-5, 2**64), st.floats(), any_json)


@st.composite
def extended_rows(draw: st.DrawFn) -> dict[str, Any]:
    """An extended-history row: mostly well formed, any field possibly wrong or missing."""
    row: dict[str, Any] = {
        "ts": draw(timestamps),
        "ms_played": draw(ms),
        "master_metadata_track_name": draw(names),
        "master_metadata_album_artist_name": draw(names),
        "master_metadata_album_album_name": draw(names),
        "spotify_track_uri": draw(uris),
        "episode_name": draw(names),
        "episode_show_name": draw(names),
        "spotify_episode_uri": draw(uris),
        "audiobook_title": draw(names),
        "audiobook_uri": draw(uris),
        "audiobook_chapter_uri": draw(uris),
        "platform": draw(names),
        "conn_country": draw(names),
        "reason_start": draw(names),
        "reason_end": draw(names),
        "shuffle": draw(flags),
        "skipped": draw(flags),
        "offline": draw(flags),
        "incognito_mode": draw(flags),
    }
    drop = draw(st.sets(st.sampled_from(sorted(row)), max_size=3))
    return {k: v for k, v in row.items() if k not in drop}


@st.composite
def good_rows(draw: st.DrawFn) -> dict[str, Any]:
    """A row that must become a play."""
    return {
        "ts": draw(st.datetimes(min_value=dt.datetime(1000, 1, 1))).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ms_played": draw(st.integers(0, 10**7)),
        "master_metadata_track_name": draw(st.text(min_size=1, max_size=8).map(str.strip)) or "x",
        "master_metadata_album_artist_name": "A",
        "spotify_track_uri": f"spotify:track:{draw(ids)}",
        "shuffle": draw(st.booleans()),
    }


account_rows = st.fixed_dictionaries(
    {"endTime": timestamps, "msPlayed": ms},
    optional={"artistName": names, "trackName": names, "podcastName": names},
)
files = st.one_of(
    st.lists(st.one_of(extended_rows(), good_rows(), any_json), max_size=8),
    st.lists(st.one_of(good_rows(), extended_rows()), min_size=1, max_size=8),
    st.lists(account_rows, max_size=6),
    any_json,
)


def _check_accounting(result: Any, records: list[Any]) -> None:
    rows = result.plays.column("source_row").to_pylist()
    rows += result.quarantine.column("source_row").to_pylist()
    assert sorted(rows) == list(range(len(records))), "every row is a play or a quarantine row"
    assert result.rows_read == len(records)


@settings(max_examples=200 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=files)
def test_reference_parser_never_crashes_or_loses_a_row(records: Any) -> None:
    """Any JSON: either a clear file-level error, or every row becomes one play or quarantine."""
    data = json.dumps(records).encode()
    try:
        result = parse_export(data, "Streaming_History_Audio_2024_0.json", "me")
    except ExportFormatError as exc:
        assert "Streaming_History_Audio_2024_0.json" in str(exc)
        return
    _check_accounting(result, records)


@settings(max_examples=10 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=files)
def test_fast_path_gives_the_reference_result(records: Any, tmp_path_factory: Any) -> None:
    """The DuckDB fast path yields exactly the reference parser's plays and quarantine."""
    path = Path(tmp_path_factory.mktemp("exports")) / "Streaming_History_Audio_2024_0.json"
    path.write_text(json.dumps(records, indent=1, ensure_ascii=False), encoding="utf-8")
    try:
        expected = parse_export(path.read_bytes(), path.name, "me")
    except ExportFormatError:
        with pytest.raises(ExportFormatError):
            parse_export_file(path, path.name, "me")
        return
    got = parse_export_file(path, path.name, "me")
    assert got.plays.to_pylist() == expected.plays.to_pylist()
    assert got.quarantine.to_pylist() == expected.quarantine.to_pylist()
    _check_accounting(got, records)


@settings(max_examples=15 * SCALE, deadline=None)
@given(rows=st.lists(good_rows(), min_size=1, max_size=20))
def test_valid_rows_are_all_kept(rows: list[dict[str, Any]], tmp_path_factory: Any) -> None:
    """Well-formed plays are never dropped, quarantined or duplicated."""
    path = Path(tmp_path_factory.mktemp("exports")) / "Streaming_History_Audio_2024_0.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    result = parse_export_file(path, path.name, "me")
    assert result.quarantine.num_rows == 0
    assert result.plays.column("source_row").to_pylist() == list(range(len(rows)))


def test_fast_path_falls_back_on_text_duckdb_cannot_hand_back(tmp_path: Path) -> None:
    """A row with odd keys (found by hypothesis) gives the reference parser's answer, no crash."""
    records = [
        {
            "ts": "2000-01-01T00:00:00Z",
            "ms_played": 0,
            "master_metadata_track_name": "0",
            "master_metadata_album_artist_name": "A",
            "spotify_track_uri": "spotify:track:0000000000000000000000",
            "shuffle": False,
        },
        [None, {"": -10000000, "00\r\x80\U00010000": -1000000000, "0\U00010000": None}],
    ]
    path = tmp_path / "Streaming_History_Audio_2000_0.json"
    path.write_text(json.dumps(records, indent=1, ensure_ascii=False), encoding="utf-8")
    fast = parse_export_file(path, path.name, "me")
    slow = parse_export(path.read_bytes(), path.name, "me")
    assert fast.plays.equals(slow.plays)
    assert fast.quarantine.equals(slow.quarantine)
    assert (fast.plays.num_rows, fast.quarantine.num_rows) == (1, 1)
