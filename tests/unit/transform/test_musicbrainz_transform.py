"""Artist matching rules and payload reading, on real MusicBrainz payloads."""

from __future__ import annotations

import json
from pathlib import Path

import musicbrainzngs.mbxml as mbxml
import pytest

from pipeline.transform import musicbrainz as mbt
from pipeline.transform.geo import origin_of

FIX = Path(__file__).parents[2] / "fixtures" / "musicbrainz"


def load(name: str) -> dict:
    return json.loads((FIX / name).read_text(encoding="utf-8"))


def test_url_lookup_names_the_linked_artist() -> None:
    """A URL lookup with artist-rels yields the artist it links to (exact identifier)."""
    artists = mbt.url_artists(load("mb_json_url_lookup_allmusic_inc_artist-rels_beatles.json"))
    artist, note = mbt.pick_named("The Beatles", artists)
    assert artist is not None and artist["id"] == "b10bbbfc-cf9e-42e0-be17-e2c3e1d2600d"
    assert note == ""


def test_spotify_url_search_relation_list_is_read() -> None:
    """The relation-list shape of a Spotify-URL search also yields its artist."""
    payload = load("mb_json_url_search_spotify_artist_bad_omens_2025.json")["urls"][0]
    rels = [r for group in payload["relation-list"] for r in group["relations"]]
    artists = mbt.url_artists({"relations": rels})
    assert [a["name"] for a in artists] == ["Bad Omens"]


def test_lookup_with_areas_gives_origin_and_iso_codes() -> None:
    """Begin area Paris (FR-75) -> origin "Paris|FR"; the legacy begin_area key is tolerated."""
    facts = mbt.artist_facts(
        load("picard_mb_json_artist_lookup_serge_gainsbourg.json"), frozenset()
    )
    assert (facts["begin_area_name"], facts["begin_area_iso"], facts["area_iso"]) == (
        "Paris",
        "FR",
        "FR",
    )
    assert (facts["life_begin"], facts["life_end"], facts["is_ended"]) == (
        "1928-04-02",
        "1991-03-02",
        True,
    )
    assert origin_of(facts).key == "Paris|FR"  # type: ignore[union-attr]


def test_xml_lookup_genres_and_tags_are_kept_apart() -> None:
    """Tags on the official genre list are genres; tags like "british" stay tags only."""
    parsed = mbxml.parse_message(
        (
            FIX / "mbdocs_xml_artist_lookup_rick_astley_inc_aliases_genres_tags_ratings.xml"
        ).read_bytes()
    )
    facts = mbt.artist_facts(parsed["artist"], frozenset({"pop", "dance-pop", "blue-eyed soul"}))
    genres = {g["name"] for g in facts["genres"]}
    assert genres == {"blue-eyed soul", "dance-pop", "pop"}
    assert "british" in {t["name"] for t in facts["tags"]}
    assert (facts["begin_area_name"], facts["area_iso"]) == ("Newton-le-Willows", "GB")


@pytest.mark.parametrize(
    ("credit", "names"),
    [
        ("Maceo Plex feat. Gabriel Ananda", ["Maceo Plex", "Gabriel Ananda"]),
        ("A ft. B featuring C", ["A", "B", "C"]),
        ("Simon & Garfunkel", ["Simon & Garfunkel"]),
        ("Ben Böhmer", ["Ben Böhmer"]),
    ],
)
def test_feat_credits_keep_every_artist(credit: str, names: list[str]) -> None:
    """'feat.' credits split into every artist; '&' is part of a band name."""
    assert mbt.split_credit(credit) == names


def test_low_score_same_name_is_not_matched() -> None:
    """A same-name candidate below the threshold is not attached."""
    choice = mbt.choose_by_name("Burzum", [{"id": "x", "name": "Burzum", "score": 60}], 90)
    assert choice.artist is None and "below 90" in choice.note


def test_identifier_with_two_same_name_artists_is_not_guessed() -> None:
    """Two artists of the same name on one identifier: neither gets the other's data."""
    artist, note = mbt.pick_named("X", [{"id": "1", "name": "X"}, {"id": "2", "name": "x"}])
    assert artist is None and "2 artists named" in note
