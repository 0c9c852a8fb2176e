"""Build the enrichment cassettes from the real payloads in tests/fixtures (see PROVENANCE.md).

Run ``uv run python tests/cassettes/build_enrichment_cassettes.py`` after changing a fixture.
Bodies are the fixture files byte for byte (a Spotify track is the first element of a recorded
``GET /tracks?ids=`` answer, the wrapper removed); error answers carry the headers that matter.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
FIX = HERE.parent / "fixtures"
OUT = HERE / "test_enrichment_runs"

MB = "https://musicbrainz.org/ws/2"
NOM = "https://nominatim.openstreetmap.org/search"
SP = "https://api.spotify.com/v1"


def body(path: str) -> str:
    return (FIX / path).read_text(encoding="utf-8")


def ok(uri: str, text: str, ctype: str = "application/json; charset=utf-8") -> dict[str, Any]:
    return reply(uri, 200, "OK", text, {"Content-Type": [ctype]})


def reply(uri: str, code: int, message: str, text: str, headers: dict) -> dict[str, Any]:
    return {
        "request": {"body": None, "headers": {}, "method": "GET", "uri": uri},
        "response": {
            "status": {"code": code, "message": message},
            "headers": headers,
            "body": {"string": text},
        },
    }


def nominatim(q: str, cc: str) -> str:
    return f"{NOM}?q={q}&format=json&limit=1&addressdetails=1&accept-language=en&countrycodes={cc}"


def structured(field: str, value: str, cc: str | None = None) -> str:
    """A structured Nominatim search (``city=``...), as geopy sends a dict query."""
    query = f"{NOM}?{field}={value}&format=json&limit=1&addressdetails=1&accept-language=en"
    return query + (f"&countrycodes={cc}" if cc else "")


BURZUM_JSON = f"{MB}/artist/?fmt=json&limit=10&query=artist%3A%28burzum%29"
DYNAMO_GO_XML = f"{MB}/artist/?limit=10&query=artist%3A%28dynamo+go%29"
DYNAMO_XML = f"{MB}/artist/?limit=10&query=artist%3A%28dynamo%29"
TRACK = "0eGsygTp906u18L0Oimnem"


def track_body() -> str:
    return json.dumps(json.loads(body("spotify_api/zmb3_get_several_tracks.json"))["tracks"][0])


OTHER_TRACK = "1KGi9sZVMeszgZOWivFpxs"


def hostile_track_body() -> str:
    """The real track, re-IDed, with fields no real answer holds: a name that is a lone
    surrogate escape, a popularity past any float (JSON ``1e400`` reads as infinity), an
    artist list that is an object, ``external_ids`` that is a string."""
    track = json.loads(track_body())
    track.update(id=OTHER_TRACK, name="SURROGATE", artists={"0": "x"}, external_ids="USIR2")
    text = json.dumps(track).replace('"SURROGATE"', '"Broken \\ud800 name"')
    return text.replace('"popularity": ' + str(track["popularity"]), '"popularity": 1e400')


CASSETTES: dict[str, list[dict[str, Any]]] = {
    "spotify_hostile_answers": [
        ok(f"{SP}/tracks/{TRACK}", "[]"),
        ok(f"{SP}/tracks/{OTHER_TRACK}", hostile_track_body()),
        ok(f"{SP}/albums/6TJmQnO44YE5BtTxH8pop1", '{"id": 5, "name": [1]}'),
    ],
    "name_search_genres": [
        ok(BURZUM_JSON, body("musicbrainz/mb_json_artist_search_burzum_2021.json"))
    ],
    "ambiguous_and_no_area": [
        ok(
            DYNAMO_GO_XML,
            body("musicbrainz/musicbrainzngs_search_artist_dynamo_go.xml"),
            "application/xml",
        ),
        ok(
            DYNAMO_XML,
            body("musicbrainz/musicbrainzngs_search_artist_dynamo_go.xml"),
            "application/xml",
        ),
    ],
    "budget_run1": [
        ok(
            DYNAMO_GO_XML,
            body("musicbrainz/musicbrainzngs_search_artist_dynamo_go.xml"),
            "application/xml",
        ),
    ],
    "budget_run2": [
        ok(
            DYNAMO_XML,
            body("musicbrainz/musicbrainzngs_search_artist_dynamo_go.xml"),
            "application/xml",
        ),
    ],
    "no_interactions": [],
    "spotify_link_missing_then_name": [
        reply(
            f"{MB}/url/?fmt=json&inc=artist-rels&resource=https%3A%2F%2Fopen.spotify.com"
            "%2Fartist%2F0C0XlULifJtAgn6ZNCW2eu",
            404,
            "Not Found",
            "",
            {},
        ),
        ok(BURZUM_JSON, body("musicbrainz/mb_json_artist_search_burzum_2021.json")),
    ],
    "retry_after_13h": [
        reply(BURZUM_JSON, 429, "Too Many Requests", "", {"Retry-After": ["46800"]}),
    ],
    "backoff_503": [
        reply(BURZUM_JSON, 503, "Service Unavailable", "", {}),
        reply(BURZUM_JSON, 503, "Service Unavailable", "", {}),
        ok(BURZUM_JSON, body("musicbrainz/mb_json_artist_search_burzum_2021.json")),
    ],
    "geocode": [
        ok(
            nominatim("Hisarya", "bg"),
            body("nominatim/php_openmapclienttest_search_hisarya_bulgaria.json"),
        ),
        ok(
            nominatim("Bruxelles+-+Brussel", "be"),
            body(
                "nominatim/geocoderphp_nominatim_search_jsonv2_addressdetails_extratags_brussels.json"
            ),
        ),
        ok(nominatim("Nowhere+Town", "no"), "[]"),
    ],
    "geocode_typed_and_other_country": [
        ok(
            structured("city", "Hisarya", "bg"),
            body("nominatim/php_openmapclienttest_search_hisarya_bulgaria.json"),
        ),
        # Asked within France, answered (wrongly) with Brussels: rejected, not geocoded.
        ok(
            nominatim("Bruxelles+-+Brussel", "fr"),
            body(
                "nominatim/geocoderphp_nominatim_search_jsonv2_addressdetails_extratags_brussels.json"
            ),
        ),
    ],
    "geocode_retry_after_20": [
        reply(nominatim("Hisarya", "bg"), 429, "Too Many Requests", "", {"Retry-After": ["20"]}),
        ok(
            nominatim("Hisarya", "bg"),
            body("nominatim/php_openmapclienttest_search_hisarya_bulgaria.json"),
        ),
    ],
    "name_search_area_norway": [
        ok(BURZUM_JSON, body("musicbrainz/derived_mb_json_artist_search_burzum_area_norway.json"))
    ],
    "geocode_bergen_norway": [
        ok(
            structured("city", "Bergen", "no"),
            body("nominatim/constructed_search_city_bergen_norway.json"),
        ),
    ],
    "geocode_bergen": [
        ok(
            structured("city", "Bergen"),
            body("nominatim/constructed_search_city_bergen_norway.json"),
        ),
    ],
    "geocode_retry_after_13h": [
        reply(nominatim("Hisarya", "bg"), 429, "Too Many Requests", "", {"Retry-After": ["46800"]}),
    ],
    "spotify_track_then_quota": [
        ok(f"{SP}/tracks/{TRACK}", track_body()),
        reply(
            f"{SP}/artists/0C0XlULifJtAgn6ZNCW2eu",
            429,
            "Too Many Requests",
            '{"error": {"status": 429, "message": "API rate limit exceeded"}}',
            {"Retry-After": ["46800"]},
        ),
    ],
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, interactions in CASSETTES.items():
        path = OUT / f"{name}.yaml"
        path.write_text(
            yaml.safe_dump({"interactions": interactions, "version": 1}, allow_unicode=True),
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
