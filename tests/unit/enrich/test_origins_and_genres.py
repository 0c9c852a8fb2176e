"""The one origin key, the question geocoding asks, and genres that need votes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.transform import geo
from pipeline.transform import musicbrainz as mbt

FIXTURES = Path(__file__).parent.parent.parent / "fixtures"
GENRES = frozenset({"black metal", "dungeon synth", "ambient", "pop", "rock"})


def _burzum() -> dict:
    payload = json.loads(
        (FIXTURES / "musicbrainz" / "mb_json_artist_search_burzum_2021.json").read_text()
    )
    return mbt.search_results(payload)[0]


def test_search_answer_origin_is_the_begin_area_asked_as_a_city() -> None:
    """Burzum's search answer: begin area Bergen (a City, no ISO code) is the origin, asked as
    ``city=Bergen``; its area Limousis (France) lends it no country."""
    facts = mbt.artist_facts(_burzum(), GENRES)
    place = geo.origin_of(facts)
    assert place == geo.Place("Bergen", None, "City")
    assert facts["origin_place_key"] == place.key == "Bergen|"
    assert place.query() == {"city": "Bergen"}


@pytest.mark.parametrize(
    ("artist", "key"),
    [
        ({"begin_area_name": "Bergen", "country": "NO", "area_iso": "FR"}, "Bergen|NO"),
        ({"begin_area_name": "Paris", "begin_area_iso": "FR", "country": "GB"}, "Paris|FR"),
        ({"begin_area_name": "Newton-le-Willows", "area_iso": "GB"}, "Newton-le-Willows|GB"),
        ({"area_name": "Norway", "area_iso": "NO"}, "Norway|NO"),
        ({"area_name": "Norway", "country": "NO"}, "Norway|NO"),
        ({"country": "NZ"}, None),
    ],
)
def test_origin_key_prefers_the_areas_own_code_then_the_artists_country(
    artist: dict, key: str | None
) -> None:
    """The key's country: the begin area's code, else the artist's country, else the area's."""
    assert geo.origin_place_key(artist) == key


@pytest.mark.parametrize(
    ("area_type", "query"),
    [
        ("City", {"city": "X"}),
        ("Municipality", {"city": "X"}),
        ("Subdivision", {"state": "X"}),
        ("County", {"county": "X"}),
        ("Country", {"country": "X"}),
        ("Island", "X"),
        (None, "X"),
    ],
)
def test_geocoding_question_follows_the_area_type(area_type: str | None, query: object) -> None:
    """A typed area is a structured Nominatim query; an untyped one is free text."""
    assert geo.Place("X", "NO", area_type).query() == query


def test_a_result_from_another_country_is_not_accepted() -> None:
    """A place with a country accepts only results in that country."""
    place = geo.Place("Bergen", "NO", "City")
    assert place.accepts({"address": {"country_code": "no"}})
    assert not place.accepts({"address": {"country_code": "us"}})
    assert geo.Place("Bergen", None).accepts({"address": {"country_code": "us"}})


def test_tags_without_votes_stay_tags_but_are_not_genres() -> None:
    """A genre-list tag with 0 votes is kept in tags and left out of genres."""
    artist = {
        "id": "x",
        "name": "X",
        "tags": [{"name": "rock", "count": 0}, {"name": "pop", "count": 3}],
        "genres": [{"name": "ambient", "count": 0}],
    }
    facts = mbt.artist_facts(artist, GENRES)
    assert [g["name"] for g in facts["genres"]] == ["pop"]
    assert {t["name"] for t in facts["tags"]} == {"rock", "pop"}
