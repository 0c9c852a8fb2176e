"""A small, hand-made listening history for checking the warehouse's analytics.

Every number the tests in ``test_warehouse_analytics.py`` expect can be worked out from this
file by hand; the comments say how. Listeners (config/testing.yaml): ``me`` in Europe/Berlin,
``partner`` in America/New_York; ``ghost`` has plays but is not configured (UTC).

Batch 1 is the history at the first build; batch 2 arrives later: a new day, a play replaced
by the export's copy of it (different play_id), an old play imported late (it becomes the
first-ever play of Alpha and of the "Song One" recording) and a catalogue lookup.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pyarrow as pa

from pipeline import schemas
from pipeline.io.parquet import write_parquet_atomic
from pipeline.paths import Lake
from pipeline.transform.geo import origin_place_key

UTC = dt.UTC
ISRC_SONG_ONE = "USABC2400001"


def _ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


_TRACKS = {
    # id: (title, album artist, album)
    "S1": ("Song One", "Alpha", "First"),  # the single
    "S2": ("Song One", "Alpha", "Alpha LP"),  # same recording (ISRC) on the album
    "S3": ("Three", "Beta", "Beta LP"),  # credits Beta and Alpha
    "B1": ("Blue", "Beta", "Blue Album"),
}


def play(
    play_id: str,
    start: str,
    minutes: float,
    track: str | None = None,
    *,
    account: str = "me",
    content_type: str = "music",
    source: str = "export_extended",
    skipped: bool = False,
    shuffle: bool = False,
    name_only: tuple[str | None, str | None, str | None] | None = None,
    show: str | None = None,
) -> dict:
    """One PLAYS row starting at ``start`` (UTC) and lasting ``minutes``."""
    ms = int(minutes * 60_000)
    started = _ts(start)
    title, artist, album = _TRACKS[track] if track else (name_only or (None, None, None))
    return {
        "play_id": play_id,
        "account": account,
        "track_id": track,
        "episode_id": f"ep-{play_id}" if content_type == "podcast" else None,
        "audiobook_id": None,
        "audiobook_chapter_id": None,
        "content_type": content_type,
        "track_name": title,
        "artist_name": artist,
        "album_name": album,
        "episode_name": f"Episode {play_id}" if content_type == "podcast" else None,
        "show_name": show,
        "audiobook_title": None,
        "audiobook_chapter_title": None,
        "platform": "android",
        "conn_country": "DE",
        "reason_start": "clickrow",
        "reason_end": "fwdbtn" if skipped else "trackdone",
        "source": source,
        "source_file": "crafted.json",
        "ts_precision": "ms" if source == "api" else "s",
        "ms_played": ms,
        "source_row": 0,
        "shuffle": shuffle,
        "skipped": skipped,
        "offline": False,
        "incognito_mode": False,
        "is_local": False,
        "played_at": started + dt.timedelta(milliseconds=ms),
    }


BATCH_1 = [
    # Spring forward in Berlin (2024-03-31 02:00 CET -> 03:00 CEST): m1 starts 01:54 CET,
    # m2 starts 03:10 CEST. 12 real minutes apart -> one session; local hours 1 and 3.
    play("m1", "2024-03-31T00:54:00", 4, "S1"),
    play("m2", "2024-03-31T01:10:00", 4, "S3"),
    # Fall back (2024-10-27 03:00 CEST -> 02:00 CET): m3 starts 00:30 CEST on the 27th while
    # it is still the 26th in UTC; m4 and m5 both start at 02:30 local, an hour apart.
    play("m3", "2024-10-26T22:30:00", 5, "S2"),
    play("m4", "2024-10-27T00:30:00", 5, "B1"),
    play("m5", "2024-10-27T01:30:00", 5, "S3"),
    # Sessions with a 30-minute idle gap: s1+s2 (17 min apart), then s3 (47 min after s2
    # ended) + s4 (exactly 30 min after s3 ended: still the same session).
    play("s1", "2024-05-01T18:00:00", 3, "S1"),
    play("s2", "2024-05-01T18:20:00", 3, "B1", skipped=True),
    play("s3", "2024-05-01T19:10:00", 3, "B1"),
    play("s4", "2024-05-01T19:43:00", 3, "B1", shuffle=True),
    # Streak: 05-01, 05-02, 05-03 (3 days), a gap, then 05-05.
    play("d1", "2024-05-02T10:00:00", 2, "B1"),
    play("d2", "2024-05-03T10:00:00", 2, "S1"),
    play("d3", "2024-05-05T10:00:00", 2, "S1"),
    # Unknown dimensions: a name-only play without artist or album, and a podcast.
    play("u1", "2024-05-05T12:00:00", 1, name_only=("Mystery", None, None)),
    play("p1", "2024-05-05T13:00:00", 30, content_type="podcast", show="Talk Show"),
    # An account that is not configured any more.
    play("g1", "2024-05-05T14:00:00", 2, "S1", account="ghost"),
    # New York, spring forward 2024-03-10 02:00 EST -> 03:00 EDT: 01:50 EST and 03:05 EDT.
    play("n1", "2024-03-10T06:50:00", 4, "B1", account="partner"),
    play("n2", "2024-03-10T07:05:00", 4, "B1", account="partner"),
    # Seen by polling first; batch 2's export replaces it (same play, other play_id).
    play("x1-api", "2024-11-10T09:00:00", 3, "S1", source="api"),
]

BATCH_2 = [
    play("x1-export", "2024-11-10T09:00:00", 3, "S1"),
    play("y1", "2024-11-11T09:00:00", 3, "B1"),
    # Imported late: now the first-ever play of Alpha and of the Song One recording.
    play("o1", "2024-02-01T20:00:00", 2, "S2"),
]


def _lookup(schema: pa.Schema, rows: list[dict], fetched: str) -> pa.Table:
    common = {"status": "found", "source": "spotify_api", "fetched_at": _ts(fetched)}
    return pa.Table.from_pylist([{**common, **r} for r in rows], schema=schema)


SPOTIFY_TRACKS_1 = [
    {
        "track_id": "S1",
        "track_name": "Song One",
        "isrc": ISRC_SONG_ONE,
        "album_id": "A1",
        "artist_ids": ["alpha-id"],
        "artist_names": ["Alpha"],
        "duration_ms": 240_000,
    },
    {
        "track_id": "S2",
        "track_name": "Song One",
        "isrc": ISRC_SONG_ONE.lower(),
        "album_id": "A2",
        "artist_ids": ["alpha-id"],
        "artist_names": ["Alpha"],
        "duration_ms": 300_000,
    },
    {
        "track_id": "S3",
        "track_name": "Three",
        "isrc": "USXYZ2400003",
        "album_id": "A3",
        "artist_ids": ["beta-id", "alpha-id"],
        "artist_names": ["Beta", "Alpha"],
        "duration_ms": 300_000,
        "is_explicit": True,
    },
]
SPOTIFY_TRACKS_2 = [
    {
        "track_id": "B1",
        "track_name": "Blue",
        "isrc": "USXYZ2400004",
        "album_id": "A4",
        "artist_ids": ["beta-id"],
        "artist_names": ["Beta"],
        "duration_ms": 200_000,
    },
]
SPOTIFY_ALBUMS = [
    {
        "album_id": "A1",
        "album_name": "First",
        "album_type": "single",
        "release_date": "2019-05-01",
        "release_date_precision": "day",
    },
    {
        "album_id": "A2",
        "album_name": "Alpha LP",
        "album_type": "album",
        "release_date": "2018",
        "release_date_precision": "year",
    },
    {
        "album_id": "A3",
        "album_name": "Beta LP",
        "album_type": "album",
        "release_date": "1975-06",
        "release_date_precision": "month",
    },
]
SPOTIFY_ARTISTS = [
    {"artist_id": "beta-id", "artist_name": "Beta", "genres": ["Jazz"]},
    {"artist_id": "alpha-id", "artist_name": "Alpha", "genres": []},
]
MUSICBRAINZ_ARTISTS = [
    {
        "lookup_key": "name:alpha",
        "query_name": "Alpha",
        "mbid": "mbid-alpha",
        "artist_name": "Alpha",
        "artist_type": "Group",
        "country": "DE",
        # As MusicBrainz *search* answers: a typed begin area without ISO codes, the
        # artist's country beside it; the origin key comes from the pipeline's one definition.
        "begin_area_name": "Berlin",
        "begin_area_type": "City",
        "life_begin": "1999",
        "tags": [
            {"name": "rock", "count": 10},
            {"name": "seen live", "count": 5},
            {"name": "electronic", "count": 2},
            # Nobody voted for it (search answers list such tags): a tag, never a genre.
            {"name": "pop", "count": 0},
        ],
        "match_method": "name_search",
        "match_score": 100,
    },
]
GEO_PLACES = [
    {
        "place_key": "Berlin|DE",
        "query": "city=Berlin&countrycodes=de",
        "latitude": 52.52,
        "longitude": 13.405,
        "city": "Berlin",
        "region": "Berlin",
        "country": "Germany",
        "country_code": "de",
    },
]
for _artist in MUSICBRAINZ_ARTISTS:
    _artist["origin_place_key"] = origin_place_key(_artist)
POLL_GAPS = [
    {
        "account": "me",
        "gap_start": _ts("2024-11-10T12:00:00"),
        "gap_end": _ts("2024-11-10T14:00:00"),
        "detected_at": _ts("2024-11-10T15:00:00"),
        "poll_file": "poll-1.parquet",
    },
]


def write_plays(the_lake: Lake, rows: list[dict]) -> None:
    """Write plays into their UTC-day partitions, merged with what a partition holds already
    (a replaced play — same account, track and time — is dropped, as staging's dedupe does)."""
    import pyarrow.parquet as pq

    by_day: dict[dt.date, list[dict]] = defaultdict(list)
    for row in rows:
        by_day[row["played_at"].date()].append(row)
    for day, new in by_day.items():
        target = the_lake.plays_partition(day)
        old = pq.read_table(target).to_pylist() if target.exists() else []
        seen = {(r["account"], r["track_id"], r["played_at"]) for r in new}
        kept = [r for r in old if (r["account"], r["track_id"], r["played_at"]) not in seen]
        write_parquet_atomic(target, pa.Table.from_pylist(kept + new, schema=schemas.PLAYS))


def write_batch_1(the_lake: Lake) -> None:
    """The history and lookups at the first build."""
    write_plays(the_lake, BATCH_1)
    day = dt.date(2024, 11, 1)
    tables = {
        "lookups/spotify_tracks": _lookup(
            schemas.SPOTIFY_TRACKS, SPOTIFY_TRACKS_1, "2024-11-01T00:00:00"
        ),
        "lookups/spotify_albums": _lookup(
            schemas.SPOTIFY_ALBUMS, SPOTIFY_ALBUMS, "2024-11-01T00:00:00"
        ),
        "lookups/spotify_artists": _lookup(
            schemas.SPOTIFY_ARTISTS, SPOTIFY_ARTISTS, "2024-11-01T00:00:00"
        ),
        "lookups/musicbrainz_artists": _lookup(
            schemas.MUSICBRAINZ_ARTISTS, MUSICBRAINZ_ARTISTS, "2024-11-01T00:00:00"
        ),
        "lookups/geo_places": _lookup(schemas.GEO_PLACES, GEO_PLACES, "2024-11-01T00:00:00"),
        "gaps": pa.Table.from_pylist(POLL_GAPS, schema=schemas.POLL_GAPS),
    }
    for dataset, table in tables.items():
        write_parquet_atomic(the_lake.dated_partition(dataset, day), table)


def write_batch_2(the_lake: Lake) -> None:
    """What arrives after the first build: new, replaced and late plays, one more lookup."""
    write_plays(the_lake, BATCH_2)
    write_parquet_atomic(
        the_lake.dated_partition("lookups/spotify_tracks", dt.date(2024, 11, 12)),
        _lookup(schemas.SPOTIFY_TRACKS, SPOTIFY_TRACKS_2, "2024-11-12T00:00:00"),
    )
