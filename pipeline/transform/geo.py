"""Artist origins -> places to geocode, and Nominatim results -> GEO_PLACES rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Address fields that name the locality, most specific first (Nominatim's addressdetails).
_CITY_FIELDS = ("city", "town", "village", "municipality", "hamlet", "suburb", "city_district")
_REGION_FIELDS = ("state", "region", "province", "county", "state_district")


@dataclass(frozen=True)
class Place:
    """A place to geocode: an area name and (if known) its ISO 3166-1 country code."""

    name: str
    country_code: str | None

    @property
    def key(self) -> str:
        """ "<area name>|<ISO code or empty>" (schemas.GEO_PLACES.place_key)."""
        return f"{self.name}|{self.country_code or ''}"


def origin_of(artist: dict[str, Any]) -> Place | None:
    """Where an artist comes from: the begin area (birthplace, founding city), else the area.

    The country code narrows the search (Nominatim ``countrycodes``): the area's own code, else
    the artist's country. An artist with no area at all has no origin (shown as Unknown).
    """
    if artist.get("begin_area_name"):
        name = artist["begin_area_name"]
        code = artist.get("begin_area_iso") or artist.get("area_iso") or artist.get("country")
    elif artist.get("area_name"):
        name = artist["area_name"]
        code = artist.get("area_iso") or artist.get("country")
    else:
        return None
    return Place(str(name).strip(), str(code).upper() if code else None)


def _first(address: dict[str, Any], fields: tuple[str, ...]) -> str | None:
    for name in fields:
        if address.get(name):
            return str(address[name])
    return None


def place_row(place: Place, result: dict[str, Any]) -> dict[str, Any]:
    """The GEO_PLACES columns of one Nominatim result (format json or jsonv2, addressdetails)."""
    address = result.get("address") or {}
    code = address.get("country_code")
    osm_id = result.get("osm_id")
    return {
        "place_key": place.key,
        "query": place.name,
        "latitude": float(result["lat"]) if result.get("lat") is not None else None,
        "longitude": float(result["lon"]) if result.get("lon") is not None else None,
        "city": _first(address, _CITY_FIELDS),
        "region": _first(address, _REGION_FIELDS),
        "country": address.get("country"),
        "country_code": str(code).upper() if code else place.country_code,
        "display_name": result.get("display_name"),
        "osm_type": result.get("osm_type"),
        "osm_id": int(osm_id) if isinstance(osm_id, int | str) and str(osm_id).isdigit() else None,
    }
