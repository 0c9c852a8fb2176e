"""Enrichment answers with a hostile value in any field still become writable lookup rows.

Each real answer in ``tests/fixtures`` (a Spotify track, album and artist, a MusicBrainz artist
lookup, search and URL lookup, a Nominatim result) has every field, one at a time, replaced by
a value no real answer holds: null, an integer past 64 bits, a lone surrogate, an object, a
list, 5,000 characters, NaN, infinity, a boolean. Reading it must give a row the lookup
dataset's Arrow schema accepts (so ``finish`` can write the run), never an exception that ends
the run for every key at every retry.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pytest

from pipeline import schemas
from pipeline.transform import geo
from pipeline.transform import musicbrainz as mbt
from pipeline.transform import spotify_catalogue as sct
from tests.conftest import FIXTURES

NOW = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
HOSTILE: dict[str, Any] = {
    "null": None,
    "past_int64": 2**70,
    "surrogate": "a\ud800b",
    "object": {"a": 1},
    "list": [1, {"x": 2}],
    "long": "x" * 5000,
    "nan": float("nan"),
    "infinity": float("inf"),
    "bool": True,
    "negative": -5,
    "huge_float": 1.5e300,
}


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every field's path (the first two elements of each list)."""
    if path:
        yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value[:2]):
            yield from _paths(child, (*path, index))


def _mutants(answer: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in _paths(answer):
        for label, bad in HOSTILE.items():
            mutant = copy.deepcopy(answer)
            holder: Any = mutant
            for step in path[:-1]:
                holder = holder[step]
            holder[path[-1]] = copy.deepcopy(bad)
            yield f"{'/'.join(map(str, path))}={label}", mutant


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _track() -> dict[str, Any]:
    return _load("spotify_api/zmb3_get_several_tracks.json")["tracks"][0]


def _spotify_rows(track: dict[str, Any]) -> None:
    """A harvested track as ``run_catalogue`` reads it: track, album and artist rows."""
    harvest = sct.harvest_recently_played([{"items": [{"track": track}]}])
    for rows, schema in (
        ([sct.track_row(t, "recently_played", NOW) for t in harvest.tracks.values()], "TRACKS"),
        ([sct.album_row(a, "recently_played", NOW) for a in harvest.albums.values()], "ALBUMS"),
        ([sct.artist_row(a, "recently_played", NOW) for a in harvest.artists.values()], "ARTISTS"),
    ):
        pa.Table.from_pylist(rows, schema=getattr(schemas, f"SPOTIFY_{schema}"))


def _fetched(to_row: Callable[..., dict[str, Any]], key_field: str, schema: pa.Schema):
    def read(answer: dict[str, Any]) -> None:
        row = to_row(answer, "spotify_api", NOW)
        row[key_field] = "0eGsygTp906u18L0Oimnem"  # as runs.fetcher: the ID asked for
        pa.Table.from_pylist([row], schema=schema)

    return read


def _musicbrainz(artist: dict[str, Any]) -> None:
    facts = mbt.artist_facts(artist, frozenset({"chanson", "pop"}))
    row = {"lookup_key": "name:x", **facts, "status": "found", "source": "mb", "fetched_at": NOW}
    pa.Table.from_pylist([row], schema=schemas.MUSICBRAINZ_ARTISTS)
    place = geo.origin_of(facts)
    assert place is None or isinstance(place.key, str)


def _search(payload: dict[str, Any]) -> None:
    found = mbt.search_results(payload)
    choice = mbt.choose_by_name("Burzum", found, 90)
    if choice.artist is not None:
        _musicbrainz(choice.artist)


def _url(payload: dict[str, Any]) -> None:
    artist, _ = mbt.pick_named("The Beatles", mbt.url_artists(payload))
    if artist is not None:
        _musicbrainz(artist)


def _nominatim(result: dict[str, Any]) -> None:
    place = geo.Place("Brussels", "BE", "City")
    place.accepts(result)
    row = {**geo.place_row(place, result), "status": "found", "source": "n", "fetched_at": NOW}
    pa.Table.from_pylist([row], schema=schemas.GEO_PLACES)
    assert row["latitude"] is None or -90 <= row["latitude"] <= 90


CASES: dict[str, tuple[Callable[[], dict[str, Any]], Callable[[dict[str, Any]], None]]] = {
    "spotify_harvested_track": (_track, _spotify_rows),
    "spotify_track": (_track, _fetched(sct.track_row, "track_id", schemas.SPOTIFY_TRACKS)),
    "spotify_album": (
        lambda: _track()["album"],
        _fetched(sct.album_row, "album_id", schemas.SPOTIFY_ALBUMS),
    ),
    "spotify_artist": (
        lambda: _load("spotify_api/zmb3_get_artist_pitbull.json"),
        _fetched(sct.artist_row, "artist_id", schemas.SPOTIFY_ARTISTS),
    ),
    "musicbrainz_lookup": (
        lambda: _load("musicbrainz/picard_mb_json_artist_lookup_serge_gainsbourg.json"),
        _musicbrainz,
    ),
    "musicbrainz_search": (
        lambda: _load("musicbrainz/mb_json_artist_search_burzum_2021.json"),
        _search,
    ),
    "musicbrainz_url": (
        lambda: _load("musicbrainz/mb_json_url_lookup_allmusic_inc_artist-rels_beatles.json"),
        _url,
    ),
    "nominatim": (
        lambda: _load(
            "nominatim/geocoderphp_nominatim_search_jsonv2_addressdetails_extratags_brussels.json"
        )[0],
        _nominatim,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_field_hostile_still_reads(case: str) -> None:
    """No field of a real answer, made hostile, stops its row from being read and written."""
    load, read = CASES[case]
    read(load())  # the real answer itself
    failures = []
    for where, mutant in _mutants(load()):
        try:
            read(mutant)
        except Exception as exc:  # noqa: BLE001 - every failure is collected and shown
            failures.append(f"{where}: {type(exc).__name__}: {str(exc)[:80]}")
    assert not failures, f"{len(failures)} hostile fields broke the reader:\n" + "\n".join(
        failures[:15]
    )


def test_clean_rows_keep_the_real_values() -> None:
    """The readers still keep every real value (the cleaning only ever drops hostile ones)."""
    row = sct.track_row(_track(), "spotify_api", NOW)
    assert (row["track_name"], row["isrc"], row["duration_ms"], row["is_explicit"]) == (
        "Mr. Brightside",
        "USIR20400274",
        222_075,
        False,
    )
    assert row["artist_names"] == ["The Killers"]
    result = _load(
        "nominatim/geocoderphp_nominatim_search_jsonv2_addressdetails_extratags_brussels.json"
    )[0]
    place = geo.place_row(geo.Place("Brussels", "BE", "City"), result)
    assert place["latitude"] == pytest.approx(float(result["lat"]))
    assert place["osm_id"] == int(result["osm_id"])
