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

from pipeline.io.export_fast import parse_export_file
from pipeline.transform.clean import MAX_TEXT
from pipeline.transform.export import (
    MAX_MS_PLAYED,
    SPOTIFY_ERA,
    ExportFormatError,
    Limits,
    parse_export,
)

#: Multiplies the examples per property: HYPOTHESIS_EXAMPLES_SCALE=20 for a long soak.
SCALE = int(os.environ.get("HYPOTHESIS_EXAMPLES_SCALE", "1"))
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#: One clock for both parsers, so the "not in the future" bound is the same instant.
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
LIMITS = Limits.at(NOW, margin_minutes=5)

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
    # The range rule's edges: Spotify's era, the import's clock + margin, year 9999.
    st.sampled_from(
        [
            "2005-12-31T23:59:59Z",
            "2006-01-01T00:00:00Z",
            "2026-06-01T12:05:00Z",
            "2026-06-01T12:05:01Z",
            "2060-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59-14:00",
        ]
    ),
    st.text(max_size=25),
)
names = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["", "  ", " Song", "Song\u00a0", "Song ", "Björk", "\x1fX"]),
    st.sampled_from(["x" * MAX_TEXT, "x" * (MAX_TEXT + 1), "é" * MAX_TEXT, "é" * (MAX_TEXT // 2)]),
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
ms = st.one_of(
    st.integers(0, 10**7),
    st.integers(-5, 2**64),
    st.sampled_from([MAX_MS_PLAYED, MAX_MS_PLAYED + 1, 2**63 - 1, -1]),
    st.floats(),
    any_json,
)


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
        "ts": draw(
            st.datetimes(
                min_value=SPOTIFY_ERA.replace(tzinfo=None), max_value=NOW.replace(tzinfo=None)
            )
        ).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ms_played": draw(st.integers(0, MAX_MS_PLAYED)),
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
        result = parse_export(data, "Streaming_History_Audio_2024_0.json", "me", LIMITS)
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
        expected = parse_export(path.read_bytes(), path.name, "me", LIMITS)
    except ExportFormatError:
        with pytest.raises(ExportFormatError):
            parse_export_file(path, path.name, "me", limits=LIMITS)
        return
    got = parse_export_file(path, path.name, "me", limits=LIMITS)
    assert got.plays.to_pylist() == expected.plays.to_pylist()
    assert got.quarantine.to_pylist() == expected.quarantine.to_pylist()
    _check_accounting(got, records)


@settings(max_examples=15 * SCALE, deadline=None)
@given(rows=st.lists(good_rows(), min_size=1, max_size=20))
def test_valid_rows_are_all_kept(rows: list[dict[str, Any]], tmp_path_factory: Any) -> None:
    """Well-formed plays are never dropped, quarantined or duplicated."""
    path = Path(tmp_path_factory.mktemp("exports")) / "Streaming_History_Audio_2024_0.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    result = parse_export_file(path, path.name, "me", limits=LIMITS)
    assert result.quarantine.num_rows == 0
    assert result.plays.column("source_row").to_pylist() == list(range(len(rows)))


def test_fast_path_falls_back_on_text_duckdb_cannot_hand_back(tmp_path: Path) -> None:
    """A row with odd keys (found by hypothesis) gives the reference parser's answer, no crash."""
    records = [
        {
            "ts": "2020-01-01T00:00:00Z",
            "ms_played": 0,
            "master_metadata_track_name": "0",
            "master_metadata_album_artist_name": "A",
            "spotify_track_uri": "spotify:track:0000000000000000000000",
            "shuffle": False,
        },
        [None, {"": -10000000, "00\r\x80\U00010000": -1000000000, "0\U00010000": None}],
    ]
    path = tmp_path / "Streaming_History_Audio_2020_0.json"
    path.write_text(json.dumps(records, indent=1, ensure_ascii=False), encoding="utf-8")
    fast = parse_export_file(path, path.name, "me")
    slow = parse_export(path.read_bytes(), path.name, "me")
    assert fast.plays.equals(slow.plays)
    assert fast.quarantine.equals(slow.quarantine)
    assert (fast.plays.num_rows, fast.quarantine.num_rows) == (1, 1)


def _in_range(play: dict[str, Any]) -> bool:
    texts = [v for v in play.values() if isinstance(v, str)]
    return (
        LIMITS.earliest <= play["played_at"] <= LIMITS.latest
        and 0 <= play["ms_played"] <= MAX_MS_PLAYED
        and all(len(t) <= MAX_TEXT for t in texts)
    )


@settings(max_examples=40 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(st.one_of(extended_rows(), good_rows()), min_size=1, max_size=8))
def test_every_play_is_within_the_ranges_the_warehouse_holds(
    records: list[dict[str, Any]], tmp_path_factory: Any
) -> None:
    """Whatever the file holds, each parser's plays are in range; out-of-range rows say why."""
    path = Path(tmp_path_factory.mktemp("exports")) / "Streaming_History_Audio_2024_0.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    for result in (
        parse_export(path.read_bytes(), path.name, "me", LIMITS),
        parse_export_file(path, path.name, "me", limits=LIMITS),
    ):
        assert all(_in_range(p) for p in result.plays.to_pylist())
        assert all(result.quarantine.column("reason").to_pylist())


@settings(max_examples=10 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    groups=st.lists(
        st.lists(st.one_of(good_rows(), extended_rows()), min_size=1, max_size=4),
        min_size=1,
        max_size=3,
    ),
    same_name=st.booleans(),
    nested=st.booleans(),
)
def test_an_archive_imports_what_its_members_import(
    groups: list[list[dict[str, Any]]], same_name: bool, nested: bool, tmp_path_factory: Any
) -> None:
    """Members (same names, a zip in the zip) each give exactly what the file alone gives."""
    import io
    import zipfile

    from pipeline.io.archive import ArchiveLimits, expand

    work = Path(tmp_path_factory.mktemp("zips"))
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, rows in enumerate(groups):
            name = (
                "Streaming_History_Audio_2024_0.json"
                if same_name
                else f"Streaming_History_Audio_2024_{i}.json"
            )
            zf.writestr(f"Spotify Extended Streaming History/{name}", json.dumps(rows))
    archive = work / "my_spotify_data.zip"
    if nested:
        with zipfile.ZipFile(archive, "w") as outer:
            outer.writestr("my_spotify_data.zip", inner.getvalue())
    else:
        archive.write_bytes(inner.getvalue())
    limits = ArchiveLimits(10 << 20, 100 << 20, 100, 3)
    out_dir = work / "out"
    out_dir.mkdir()
    found = expand(archive, archive.name, out_dir, limits, lambda n: n.endswith(".json"))
    assert not found.errors
    assert len(found.members) == len(groups), "every member is read, same names included"
    for member, rows in zip(found.members, groups, strict=True):
        assert member.path is not None
        got = parse_export_file(member.path, member.name, "me", limits=LIMITS)
        alone = parse_export(json.dumps(rows).encode(), member.name, "me", LIMITS)
        assert got.plays.to_pylist() == alone.plays.to_pylist()
        assert got.quarantine.to_pylist() == alone.quarantine.to_pylist()
