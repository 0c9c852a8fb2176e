"""Recently-played parsing, gap detection, and live + export dedupe on the real samples."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pyarrow as pa
import pytest

from pipeline.transform.dedupe import dedupe_plays
from pipeline.transform.export import parse_export
from pipeline.transform.recently_played import (
    detect_gap,
    new_plays,
    parse_recently_played,
)
from tests.conftest import FIXTURES

JAVA = json.loads((FIXTURES / "spotify" / "java_recently_played_limit2_2023.json").read_text())
ZMB3 = json.loads((FIXTURES / "spotify" / "zmb3_recently_played_first5.json").read_text())
EXTENDED = json.loads(
    (FIXTURES / "exports" / "efrrowini_Streaming_History_Audio_2023_first20.json").read_text()
)
ACCOUNT_DATA = json.loads(
    (FIXTURES / "exports" / "hl105_StreamingHistory_music_0_first60.json").read_text()
)


def parse(payload: dict, account: str = "me"):
    return parse_recently_played(payload, account, "raw/x.json")


def test_items_become_ms_precision_api_plays() -> None:
    """Each item is a play with its track, first artist, album and ms end time."""
    plays = parse(JAVA).plays.to_pylist()
    assert [p["track_name"] for p in plays] == ["Solitary Daze", "Cappadocia"]
    first = plays[0]
    assert first["artist_name"] == "Maceo Plex"
    assert first["album_name"] == "Solitary Daze"
    assert first["played_at"] == dt.datetime(2023, 9, 22, 15, 43, 33, 750000, tzinfo=dt.UTC)
    assert (first["source"], first["ts_precision"], first["content_type"]) == ("api", "ms", "music")
    assert first["ms_played"] == JAVA["items"][0]["track"]["duration_ms"]
    assert first["source_row"] == 0 and first["is_local"] is False


def test_play_id_is_stable_across_polls() -> None:
    """The same item in two responses gets the same play_id (overlapping polls)."""
    assert parse(JAVA).plays["play_id"].to_pylist() == parse(JAVA).plays["play_id"].to_pylist()
    assert parse(JAVA).plays["play_id"] != parse(JAVA, "partner").plays["play_id"]


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda i: i.update(track=None), "track is null"),
        (lambda i: i.update(played_at=None), "bad played_at"),
        (lambda i: i.update(played_at="yesterday"), "bad played_at"),
        (lambda i: i["track"].update(id=None), "without an id"),
        # The export parser's rules hold for polls too (hostile or broken mirrors).
        (lambda i: i.update(played_at="9999-12-31T23:59:59.999Z"), "in the future"),
        (lambda i: i.update(played_at="2001-01-01T00:00:00.000Z"), "before Spotify"),
        (lambda i: i.update(played_at="0001-01-01T00:30:00+01:00"), "out of range"),
        (lambda i: i["track"].update(duration_ms=2**70), "more than a day"),
        (lambda i: i["track"].update(name="Solitary \ud800Daze"), "not valid Unicode"),
        (lambda i: i["track"]["artists"][0].update(name="x" * 5000), "characters long"),
        (lambda i: i["track"].update(id="../../me/player/pause"), "not a Spotify ID"),
        (lambda i: i["track"].update(type="ad"), "unsupported item type"),
    ],
)
def test_unusable_items_are_quarantined(mutate, reason: str) -> None:
    """Items that cannot become plays are quarantined with the reason; the rest still land."""
    payload = copy.deepcopy(JAVA)
    mutate(payload["items"][0])
    parsed = parse(payload)
    assert parsed.plays.num_rows == 1
    assert parsed.quarantine.num_rows == 1
    assert reason in parsed.quarantine["reason"][0].as_py()
    assert json.loads(parsed.quarantine["record"][0].as_py())["context"] is None


def test_out_of_range_stamp_is_not_the_cursor() -> None:
    """A quarantined stamp in year 9999 does not become the page's newest (the poll's cursor):
    as the cursor it would hide every later gap."""
    payload = copy.deepcopy(JAVA)
    payload["items"][0]["played_at"] = "9999-12-31T23:59:59.999Z"
    parsed = parse(payload)
    good = parse(JAVA).plays["played_at"][1].as_py()
    assert parsed.newest_ms == parsed.oldest_ms == int(good.timestamp() * 1000)


def test_limits_come_from_the_poll_clock() -> None:
    """The range rule's clock is the caller's (the poll's), so a replay of raw/ agrees."""
    from pipeline.transform.export import Limits

    before = Limits.at(dt.datetime(2023, 9, 22, 15, 30, tzinfo=dt.UTC), margin_minutes=5)
    parsed = parse_recently_played(JAVA, "me", "raw/x.json", before)
    assert parsed.plays["track_name"].to_pylist() == ["Cappadocia"]
    assert "in the future" in parsed.quarantine["reason"][0].as_py()


def test_local_file_is_a_play_without_id() -> None:
    """A local file (is_local, no ID) is kept as a play keyed on its names."""
    payload = copy.deepcopy(JAVA)
    track = payload["items"][0]["track"]
    track.update(id=None, is_local=True, uri="spotify:local:A:B:Song:200")
    play = parse(payload).plays.to_pylist()[0]
    assert play["is_local"] is True and play["track_id"] is None
    assert play["track_name"] == "Solitary Daze"


def test_is_local_must_be_true_not_truthy() -> None:
    """A track with its ID and ``is_local: "yes"`` is a Spotify track (keyed by its ID), not a
    local file keyed by names: only JSON ``true`` or a spotify:local: URI makes a local file."""
    payload = copy.deepcopy(JAVA)
    payload["items"][0]["track"]["is_local"] = "yes"
    play = parse(payload).plays.to_pylist()[0]
    assert play["is_local"] is False
    assert play["track_id"] == JAVA["items"][0]["track"]["id"]


def test_not_a_page_is_an_error() -> None:
    """A body without an items list is refused as a whole."""
    from pipeline.transform.recently_played import PollFormatError

    with pytest.raises(PollFormatError):
        parse({"error": "nope"})


def _gap(items: int, oldest_ms: int, cursor: int | None):
    parsed = parse(ZMB3)
    parsed = type(parsed)(parsed.plays, parsed.quarantine, items, oldest_ms, oldest_ms + 1)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return detect_gap(parsed, "me", cursor, 50, now, "raw/x.json")


def test_gap_only_for_full_page_past_cursor() -> None:
    """A gap needs a full page, a cursor, and an oldest item newer than the cursor."""
    assert _gap(50, 2_000, 1_000).num_rows == 1
    assert _gap(49, 2_000, 1_000).num_rows == 0
    assert _gap(50, 1_000, 1_000).num_rows == 0
    assert _gap(50, 2_000, None).num_rows == 0
    row = _gap(50, 2_000, 1_000).to_pylist()[0]
    assert row["gap_start"] == dt.datetime.fromtimestamp(1, dt.UTC)
    assert row["gap_end"] == dt.datetime.fromtimestamp(2, dt.UTC)


def test_new_plays_drops_known_and_repeated() -> None:
    """Plays already landed, and repeats within a page, are not landed again."""
    plays = parse(ZMB3).plays
    known = set(plays["play_id"].to_pylist()[:2])
    assert new_plays(plays, known).num_rows == 3
    doubled = pa.concat_tables([plays, plays])
    assert new_plays(doubled, set()).num_rows == 5


# ---------- live + export: one play, stored once ----------


def _export_row_for(item: dict, offset_s: float = 0.0) -> dict:
    """The extended-export row Spotify would list for this API item (its ts is also the end)."""
    row = copy.deepcopy(EXTENDED[0])
    track = item["track"]
    played = dt.datetime.fromisoformat(item["played_at"].replace("Z", "+00:00"))
    ts = (played + dt.timedelta(seconds=offset_s)).replace(microsecond=0)
    row.update(
        ts=ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
        ms_played=track["duration_ms"] - 1234,
        master_metadata_track_name=track["name"],
        master_metadata_album_artist_name=track["artists"][0]["name"],
        master_metadata_album_album_name=track["album"]["name"],
        spotify_track_uri=track["uri"],
    )
    return row


def _both(api_payload: dict, export_rows: list[dict], name: str = "Streaming_History_Audio_x.json"):
    api = parse(api_payload).plays
    exported = parse_export(json.dumps(export_rows).encode(), name, "me").plays
    return dedupe_plays(pa.concat_tables([api, exported]), window_s=10)


@pytest.mark.parametrize("offset_s", [0.0, -0.75, 2.0, -9.0])
def test_live_and_extended_export_are_one_play(offset_s: float) -> None:
    """An API item and the export row of the same play are one play; the export's row is kept."""
    result = _both(JAVA, [_export_row_for(JAVA["items"][0], offset_s)] + EXTENDED[:3])
    plays = result.plays.to_pylist()
    assert len(plays) == 2 + 3  # two API plays + three unrelated export plays, no doubles
    kept = [p for p in plays if p["track_id"] == "7vqcDtNvoJn5pXhktc8qe8"]
    assert len(kept) == 1 and kept[0]["source"] == "export_extended"
    assert kept[0]["ms_played"] == JAVA["items"][0]["track"]["duration_ms"] - 1234
    assert result.cross_source_duplicates == 1


def test_repeat_of_the_same_track_stays_two_plays() -> None:
    """The same track played again (end times a whole play apart) is two plays."""
    item = JAVA["items"][0]
    later = _export_row_for(item, offset_s=item["track"]["duration_ms"] / 1000)
    result = _both(JAVA, [_export_row_for(item), later])
    same = [p for p in result.plays.to_pylist() if p["track_id"] == "7vqcDtNvoJn5pXhktc8qe8"]
    assert len(same) == 2


def test_local_file_seen_live_and_in_export_is_one_play() -> None:
    """A local file (no Spotify ID) seen by both sources is stored once (names + end time)."""
    payload = copy.deepcopy(JAVA)
    track = payload["items"][0]["track"]
    track.update(
        id=None, is_local=True, uri="spotify:local:Maceo+Plex:Solitary+Daze:Solitary+Daze:1"
    )
    row = _export_row_for(payload["items"][0], 1.0)
    result = _both(payload, [row])
    local = [p for p in result.plays.to_pylist() if p["is_local"]]
    assert len(local) == 1 and local[0]["source"] == "export_extended"


def test_live_and_account_data_are_one_play() -> None:
    """An account-data row (minute precision, names only) of an API play is the same play."""
    item = ZMB3["items"][0]  # Disturbed - The Sound Of Silence, ended 2017-05-27T20:07:54.720Z
    row = dict(ACCOUNT_DATA[0])
    row.update(
        endTime="2017-05-27 20:07",
        artistName=item["track"]["artists"][0]["name"],
        trackName=item["track"]["name"],
        msPlayed=248000,
    )
    api = parse(ZMB3).plays
    exported = parse_export(
        json.dumps([row] + ACCOUNT_DATA[:5]).encode(), "StreamingHistory_music_0.json", "me"
    ).plays
    result = dedupe_plays(pa.concat_tables([api, exported]), window_s=10)
    silence = [p for p in result.plays.to_pylist() if p["track_name"] == "The Sound Of Silence"]
    assert len(silence) == 1 and silence[0]["source"] == "api"
    assert result.plays.num_rows == 5 + 5
