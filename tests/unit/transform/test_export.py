"""The export parser: every real sample reads, bad rows are quarantined with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.transform.export import ExportFormatError, parse_export

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "exports"


@pytest.mark.parametrize(
    ("name", "kind", "plays"),
    [
        ("averydata_StreamingHistory0_first40.json", "account", 40),
        ("candidlyred_endsong_first24.json", "extended", 24),
        ("efrrowini_Streaming_History_Audio_2023_first20.json", "extended", 20),
        ("hl105_StreamingHistory_music_0_first60.json", "account", 60),
    ],
)
def test_real_samples_parse_completely(name: str, kind: str, plays: int) -> None:
    """Every row of each real Spotify export sample becomes a play; none is quarantined."""
    parsed = parse_export((FIXTURES / name).read_bytes(), name, "me")
    assert parsed.kind == kind
    assert parsed.plays.num_rows == plays
    assert parsed.quarantine.num_rows == 0
    assert set(parsed.plays["account"].to_pylist()) == {"me"}


def test_extended_fields_are_kept_in_utc() -> None:
    """Extended rows keep ts (UTC, second precision), reasons, flags and the track ID."""
    name = "efrrowini_Streaming_History_Audio_2023_first20.json"
    row = parse_export((FIXTURES / name).read_bytes(), name, "me").plays.to_pylist()[0]
    assert row["played_at"].isoformat() == "2023-02-25T11:20:37+00:00"
    assert row["track_id"] == "6potEImiklXkwD9qFzpu15"
    assert row["artist_name"] == "Labrinth"
    assert (row["reason_start"], row["reason_end"], row["skipped"]) == (
        "trackdone",
        "endplay",
        True,
    )
    assert row["conn_country"] == "IN"
    assert row["ts_precision"] == "s"


def test_unicode_titles_survive() -> None:
    """Korean titles and curly quotes come through unchanged."""
    name = "hl105_StreamingHistory_music_0_first60.json"
    titles = parse_export((FIXTURES / name).read_bytes(), name, "me").plays["track_name"]
    assert any(any("\uac00" <= ch <= "\ud7a3" for ch in t) for t in titles.to_pylist())


def _extended(**overrides: object) -> dict:
    row = {
        "ts": "2024-03-01T10:00:00Z",
        "ms_played": 1000,
        "master_metadata_track_name": "Song",
        "master_metadata_album_artist_name": "Artist",
        "master_metadata_album_album_name": "Album",
        "spotify_track_uri": "spotify:track:6potEImiklXkwD9qFzpu15",
        "episode_name": None,
        "episode_show_name": None,
        "spotify_episode_uri": None,
    }
    row.update(overrides)
    return row


def test_podcasts_audiobooks_and_local_files_are_marked() -> None:
    """Episodes and audiobooks are kept apart from music; a URI-less track is a local file."""
    rows = [
        _extended(),
        _extended(
            master_metadata_track_name=None,
            spotify_track_uri=None,
            episode_name="Ep 1",
            episode_show_name="Show",
            spotify_episode_uri="spotify:episode:0123456789abcdefghijkl",
        ),
        _extended(
            master_metadata_track_name=None,
            spotify_track_uri=None,
            audiobook_title="Book",
            audiobook_uri="spotify:audiobook:0123456789abcdefghijkl",
            audiobook_chapter_uri="spotify:chapter:abcdefghijkl0123456789",
        ),
        _extended(spotify_track_uri=None),
    ]
    parsed = parse_export(json.dumps(rows).encode(), "Streaming_History_Audio_x.json", "me")
    got = [(r["content_type"], r["is_local"]) for r in parsed.plays.to_pylist()]
    assert got == [("music", False), ("podcast", False), ("audiobook", False), ("music", True)]


def test_account_data_podcast_file() -> None:
    """StreamingHistory_podcast rows (podcastName/episodeName) become podcast plays."""
    rows = [{"endTime": "2023-01-01 10:00", "podcastName": "P", "episodeName": "E", "msPlayed": 5}]
    parsed = parse_export(json.dumps(rows).encode(), "StreamingHistory_podcast_0.json", "me")
    row = parsed.plays.to_pylist()[0]
    assert (row["content_type"], row["show_name"], row["episode_name"]) == ("podcast", "P", "E")
    assert row["ts_precision"] == "min"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"ts": None}, "missing field 'ts'"),
        ({"ts": "yesterday"}, "not an ISO timestamp"),
        ({"ts": 1677931200}, "field 'ts' is not an ISO timestamp: 1677931200"),
        ({"ms_played": -3}, "negative"),
        ({"ms_played": "12"}, "whole milliseconds"),
        ({"spotify_track_uri": "spotify:track:short"}, "unrecognised track URI"),
        ({"master_metadata_track_name": None, "spotify_track_uri": None}, "nothing was played"),
        ({"shuffle": "yes"}, "true/false"),
    ],
)
def test_bad_rows_are_quarantined_with_reason(bad: dict, reason: str) -> None:
    """A bad row goes to quarantine with its reason; the good rows around it are kept."""
    row = {k: v for k, v in _extended(**bad).items() if not (k == "ts" and v is None)}
    data = json.dumps([_extended(), row, _extended(ts="2024-03-02T10:00:00Z")]).encode()
    parsed = parse_export(data, "Streaming_History_Audio_1.json", "me")
    assert parsed.plays.num_rows == 2
    quarantined = parsed.quarantine.to_pylist()
    assert len(quarantined) == 1
    assert reason in quarantined[0]["reason"]
    assert quarantined[0]["source_row"] == 1
    assert json.loads(quarantined[0]["record"]) == row


def test_truncated_file_is_a_clear_error() -> None:
    """A truncated JSON file raises an error naming the file and the position."""
    data = (FIXTURES / "candidlyred_endsong_first24.json").read_bytes()[:5000]
    with pytest.raises(ExportFormatError, match=r"endsong_0\.json: not valid JSON .*truncated"):
        parse_export(data, "endsong_0.json", "me")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"ts": "x"}, "expected a JSON list"),
        ([{"foo": 1}], "neither 'ts'/'ms_played'"),
    ],
)
def test_wrong_shape_is_a_clear_error(payload: object, message: str) -> None:
    """A file that is not a list of plays is rejected as a whole with the reason."""
    with pytest.raises(ExportFormatError, match=message):
        parse_export(json.dumps(payload).encode(), "StreamingHistory0.json", "me")


def test_same_play_gets_same_key_in_both_account_files() -> None:
    """StreamingHistory0 and StreamingHistory_music_0 rows of one play share a play_id."""
    rows = [{"endTime": "2023-01-01 10:00", "artistName": "A", "trackName": "T", "msPlayed": 5}]
    one = parse_export(json.dumps(rows).encode(), "StreamingHistory0.json", "me")
    two = parse_export(json.dumps(rows).encode(), "StreamingHistory_music_0.json", "me")
    assert one.plays["play_id"].to_pylist() == two.plays["play_id"].to_pylist()


@pytest.mark.parametrize("missing", ["ts", "ms_played"])
def test_first_row_missing_a_field_does_not_refuse_the_file(missing: str) -> None:
    """A file whose first row lacks ``ts`` or ``ms_played`` keeps every other row."""
    first = {k: v for k, v in _extended().items() if k != missing}
    data = json.dumps([first, _extended(ts="2024-03-02T10:00:00Z")]).encode()
    parsed = parse_export(data, "Streaming_History_Audio_2024_0.json", "me")
    assert parsed.kind == "extended"
    assert parsed.plays.num_rows == 1
    assert f"missing field '{missing}'" in parsed.quarantine.to_pylist()[0]["reason"]


@pytest.mark.parametrize(
    ("end_time", "reason"),
    [
        (None, "missing field 'endTime'"),
        ("2023-01-01T10:00", "not 'YYYY-MM-DD HH:MM'"),
        (1672567200, "field 'endTime' is not 'YYYY-MM-DD HH:MM': 1672567200"),
    ],
)
def test_account_data_rows_say_what_is_wrong_with_their_time(end_time: object, reason: str) -> None:
    """An account-data row's time: missing, another format, or a number, each named as such."""
    good = {"endTime": "2023-01-01 10:00", "artistName": "A", "trackName": "T", "msPlayed": 5}
    data = json.dumps([good, {**good, "endTime": end_time}]).encode()
    parsed = parse_export(data, "StreamingHistory_music_0.json", "me")
    assert parsed.plays.num_rows == 1
    (quarantined,) = parsed.quarantine.to_pylist()
    assert reason in quarantined["reason"]
