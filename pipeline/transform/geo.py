"""Artist origins -> places to geocode, and Nominatim results -> GEO_PLACES rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.transform import clean

#: Address fields that name the locality, most specific first (Nominatim's addressdetails).
_CITY_FIELDS = ("city", "town", "village", "municipality", "hamlet", "suburb", "city_district")
_REGION_FIELDS = ("state", "region", "province", "county", "state_district")


#: MusicBrainz area type -> the Nominatim structured-query field that names such an area.
_STRUCTURED_FIELD = {
    "city": "city",
    "municipality": "city",
    "district": "city",
    "subdivision": "state",
    "county": "county",
    "country": "country",
}


@dataclass(frozen=True)
class Place:
    """A place to geocode: an area name, its ISO 3166-1 country code and MusicBrainz area type.

    The type is not part of the key: it only sharpens the question asked (a "City" is asked as
    ``city=``, not as free text that also matches a street or a county of that name).
    """

    name: str
    country_code: str | None
    area_type: str | None = None

    @property
    def key(self) -> str:
        """ "<area name>|<ISO code or empty>" (schemas.GEO_PLACES.place_key)."""
        return f"{self.name}|{self.country_code or ''}"

    def query(self) -> str | dict[str, str]:
        """What Nominatim is asked: a structured query for a known area type, else the name."""
        field = _STRUCTURED_FIELD.get((self.area_type or "").strip().lower())
        return {field: self.name} if field else self.name

    def accepts(self, result: dict[str, Any]) -> bool:
        """Whether a result lies in this place's country (any result when none is known)."""
        if not self.country_code:
            return True
        code = clean.text(clean.obj(clean.obj(result).get("address")).get("country_code"))
        return code is None or code.upper() == self.country_code


def origin_of(artist: dict[str, Any]) -> Place | None:
    """Where an artist comes from: the begin area (birthplace, founding city), else the area.

    THE definition of an artist's origin and its place key: enrichment stores
    ``origin_place_key`` from it on every MusicBrainz row and dbt joins on that column as is,
    so Python and SQL cannot build the key two ways.

    The country code narrows the search (Nominatim ``countrycodes``): the area's own code, else
    the artist's country (MusicBrainz *search* results carry no ISO codes on areas, only the
    artist's ``country``), else, for the begin area, the code of the artist's area. An artist
    with no area at all has no origin (shown as Unknown).
    """
    if artist.get("begin_area_name"):
        name = artist["begin_area_name"]
        code = artist.get("begin_area_iso") or artist.get("country") or artist.get("area_iso")
        area_type = artist.get("begin_area_type")
    elif artist.get("area_name"):
        name = artist["area_name"]
        code = artist.get("area_iso") or artist.get("country")
        area_type = artist.get("area_type")
    else:
        return None
    text = str(name).strip()
    if not text:
        return None
    return Place(text, str(code).strip().upper()[:2] if code else None, area_type or None)


def origin_place_key(artist: dict[str, Any]) -> str | None:
    """The place key of an artist's origin (``origin_of``), None when it has none."""
    place = origin_of(artist)
    return place.key if place else None


def _first(address: dict[str, Any], fields: tuple[str, ...]) -> str | None:
    for name in fields:
        value = clean.text(address.get(name))
        if value:
            return value
    return None


def place_row(place: Place, result: dict[str, Any]) -> dict[str, Any]:
    """The GEO_PLACES columns of one Nominatim result (format json or jsonv2, addressdetails)."""
    address = clean.obj(result.get("address"))
    code = clean.text(address.get("country_code"))
    osm_id = result.get("osm_id")
    if isinstance(osm_id, str) and osm_id.isdigit() and len(osm_id) <= 19:
        osm_id = int(osm_id)
    latitude, longitude = clean.number(result.get("lat")), clean.number(result.get("lon"))
    if latitude is None or longitude is None or abs(latitude) > 90 or abs(longitude) > 180:
        latitude = longitude = None  # half a coordinate, or one off the globe, is no place
    return {
        "place_key": place.key,
        "query": place.name if isinstance(place.query(), str) else _describe(place),
        "latitude": latitude,
        "longitude": longitude,
        "city": _first(address, _CITY_FIELDS),
        "region": _first(address, _REGION_FIELDS),
        "country": clean.text(address.get("country")),
        "country_code": code.upper() if code else place.country_code,
        "display_name": clean.text(result.get("display_name")),
        "osm_type": clean.text(result.get("osm_type")),
        "osm_id": clean.integer(osm_id),
    }


def _describe(place: Place) -> str:
    """The structured query as text (GEO_PLACES.query), e.g. "city=Bergen&countrycodes=no"."""
    query = place.query()
    parts = [f"{k}={v}" for k, v in query.items()] if isinstance(query, dict) else [f"q={query}"]
    if place.country_code:
        parts.append(f"countrycodes={place.country_code.lower()}")
    return "&".join(parts)
