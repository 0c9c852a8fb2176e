"""MusicBrainz payloads -> artist facts, and the rules that decide which artist is which.

Reads both shapes: the server's JSON (``fmt=json``: ``tags``, ``iso-3166-1-codes``, ``score``)
and musicbrainzngs' parse of the XML (``tag-list``, ``iso-3166-1-code-list``, ``ext:score``).

Matching rules (never attach one artist's genres to another):
- an exact identifier wins: the artist MusicBrainz links to the Spotify artist URL, or the artist
  credited on the recording of the track's ISRC whose name matches (score 100);
- otherwise name search, accepted only when exactly one candidate scores at least the threshold
  *and* carries the same name (or alias) after normalisation; two or more such candidates (two
  artists called the same) leave the artist unmatched, with a note, rather than guessing.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from pipeline.transform import clean

_FEAT = re.compile(r"\s+(?:feat\.?|ft\.?|featuring)\s+", re.IGNORECASE)


@functools.lru_cache(maxsize=65536)
def normalise_name(name: str | None) -> str:
    """Case-folded, NFKC, single-spaced: how two spellings of one name compare equal.

    Cached: ranking candidates normalises every credit of every played track (~160,000 calls,
    ~0.5 s per enrichment task at 1M plays), most of them names seen before.
    """
    text = unicodedata.normalize("NFKC", name or "").casefold().strip()
    text = text.replace("’", "'").replace("‘", "'")
    return re.sub(r"\s+", " ", text)


def artist_name_key(artist: dict[str, Any]) -> str:
    """``normalise_name`` of an answer's artist ``name`` (empty when it is not usable text)."""
    return normalise_name(clean.text(artist.get("name")))


def name_key(name: str) -> str:
    """The lookup key of an artist known only by name."""
    return f"name:{normalise_name(name)}"


def split_credit(name: str) -> list[str]:
    """Split "A feat. B" into ["A", "B"]; "&", "and", "," are kept (bands use them)."""
    parts = [p.strip() for p in _FEAT.split(name or "") if p.strip()]
    return parts or ([name.strip()] if name and name.strip() else [])


def _score(artist: dict[str, Any]) -> int:
    raw: Any = artist.get("score", artist.get("ext:score"))  # untyped JSON; bad values give 0
    try:
        return int(raw)
    except (TypeError, ValueError, OverflowError):
        return 0


def _tags(values: Any) -> list[dict[str, Any]]:
    out = []
    for item in clean.items(values):
        name = clean.text(item.get("name")) if isinstance(item, dict) else None
        if name and name.strip():
            raw = item.get("count", 0)
            count = clean.integer(int(raw) if isinstance(raw, str) and raw.isdigit() else raw)
            out.append({"name": name.strip().lower(), "count": count or 0})
    return sorted(out, key=lambda t: (-t["count"], t["name"]))


def _codes(area: dict[str, Any] | None, level: str) -> list[str]:
    if not isinstance(area, dict):
        return []
    codes = area.get(f"iso-3166-{level}-codes") or area.get(f"iso-3166-{level}-code-list")
    return [c for c in clean.texts(codes) if c]


def _area_iso(area: dict[str, Any] | None) -> str | None:
    """A country code for an area: its ISO 3166-1 code, else the country of its 3166-2 code."""
    first = _codes(area, "1")
    if first:
        return first[0].upper()
    second = _codes(area, "2")
    return second[0].split("-")[0].upper() if second else None


def _aliases(artist: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for alias in clean.items(artist.get("aliases") or artist.get("alias-list")):
        if isinstance(alias, dict):
            out.append(clean.text(alias.get("name")) or clean.text(alias.get("alias")) or "")
        elif isinstance(alias, str):
            out.append(clean.text(alias) or "")
    return [a for a in out if a]


def _ended(life: dict[str, Any]) -> bool | None:
    value = life.get("ended")
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    return None


def artist_facts(artist: dict[str, Any], genre_list: frozenset[str]) -> dict[str, Any]:
    """The MUSICBRAINZ_ARTISTS columns an artist object provides (lookup or search result).

    Genres are the artist's tags that are on MusicBrainz's official genre list (plus any
    ``genres`` the payload carries) *with at least one vote*: a tag nobody voted for (count 0,
    as search results and lookups show) says nothing about how much of the artist it is, so it
    stays in ``tags`` but never becomes a weighted genre. Other tags ("british", "seen live")
    stay in ``tags`` too. ``origin_place_key`` is ``geo.origin_of``'s key, the one dbt joins on.
    """
    from pipeline.transform.geo import origin_place_key

    area = artist.get("area")
    area = area if isinstance(area, dict) else None
    begin = artist.get("begin-area") or artist.get("begin_area")
    begin = begin if isinstance(begin, dict) else None
    life = artist.get("life-span")
    life = life if isinstance(life, dict) else {}
    tags = _tags(artist.get("tags") or artist.get("tag-list"))
    explicit = _tags(artist.get("genres") or artist.get("genre-list"))
    genres = {g["name"]: g for g in explicit if g["count"] > 0}
    for tag in tags:
        if tag["count"] > 0 and tag["name"] in genre_list and tag["name"] not in genres:
            genres[tag["name"]] = tag
    gender = artist.get("gender")
    facts = {
        "mbid": clean.text(artist.get("id")),
        "artist_name": clean.text(artist.get("name")),
        "sort_name": clean.text(artist.get("sort-name")),
        "artist_type": clean.text(artist.get("type")),
        "gender": clean.text(gender),
        "country": clean.text(artist.get("country")),
        "area_name": clean.text(area.get("name")) if area else None,
        "area_iso": _area_iso(area),
        "area_type": _area_type(area),
        "begin_area_name": clean.text(begin.get("name")) if begin else None,
        "begin_area_iso": _area_iso(begin),
        "begin_area_type": _area_type(begin),
        "life_begin": clean.text(life.get("begin")),
        "life_end": clean.text(life.get("end")),
        "is_ended": _ended(life),
        "tags": tags,
        "genres": sorted(genres.values(), key=lambda t: (-t["count"], t["name"])),
    }
    facts["origin_place_key"] = origin_place_key(facts)
    return facts


def _area_type(area: dict[str, Any] | None) -> str | None:
    """An area's type ("City", "Country", "Subdivision"...), as search results carry it."""
    value = clean.text(area.get("type")) if isinstance(area, dict) else None
    return value or None


@dataclass
class Choice:
    """The outcome of matching one name against search results."""

    artist: dict[str, Any] | None
    score: int
    note: str = ""
    candidates: list[str] = field(default_factory=list)


def search_results(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The artist list of a search response (JSON ``artists`` or XML ``artist-list``)."""
    payload = clean.obj(payload)
    found = clean.items(payload.get("artists") or payload.get("artist-list"))
    return [a for a in found if isinstance(a, dict)]


def choose_by_name(name: str, candidates: list[dict[str, Any]], min_score: int) -> Choice:
    """Pick the one candidate that is this artist, or none (see the module rules)."""
    wanted = normalise_name(name)
    same_name = [
        c
        for c in candidates
        if wanted
        and (artist_name_key(c) == wanted or wanted in {normalise_name(a) for a in _aliases(c)})
    ]
    best = max((_score(c) for c in candidates), default=0)
    confident = [c for c in same_name if _score(c) >= min_score]
    if len(confident) == 1:
        return Choice(confident[0], _score(confident[0]))
    if len(confident) > 1 or (not confident and len(same_name) > 1):
        pool = confident or same_name
        scores = sorted({_score(c) for c in pool})
        note = (
            f"ambiguous: {len(pool)} artists named {name!r} "
            f"(scores {scores[0]}-{scores[-1]}); not matched"
        )
        return Choice(None, max(scores), note, [str(c.get("id")) for c in pool])
    if same_name:
        top = same_name[0]
        return Choice(None, _score(top), f"best same-name score {_score(top)} is below {min_score}")
    return Choice(None, best, "no candidate with this name")


def url_artists(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Artists related to a URL lookup (JSON ``relations`` or XML ``artist-relation-list``)."""
    payload = clean.obj(payload)
    url = payload.get("url")
    url = url if isinstance(url, dict) else payload
    found: dict[str, dict[str, Any]] = {}
    relations = clean.items(url.get("relations")) + clean.items(url.get("artist-relation-list"))
    for rel in relations:
        artist = rel.get("artist") if isinstance(rel, dict) else None
        if isinstance(artist, dict) and clean.text(artist.get("id")):
            found.setdefault(artist["id"], artist)
    return list(found.values())


def isrc_artists(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Every artist credited on the recordings of an ISRC lookup (JSON or XML shape)."""
    payload = clean.obj(payload)
    holder = payload.get("isrc")
    holder = holder if isinstance(holder, dict) else payload
    recordings = clean.items(holder.get("recordings") or holder.get("recording-list"))
    found: dict[str, dict[str, Any]] = {}
    for rec in recordings:
        for credit in clean.items(clean.obj(rec).get("artist-credit")):
            artist = credit.get("artist") if isinstance(credit, dict) else None
            if isinstance(artist, dict) and clean.text(artist.get("id")):
                found.setdefault(artist["id"], artist)
    return list(found.values())


def pick_named(name: str, artists: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, str]:
    """From artists an identifier points at, the one with this name (None if none or several)."""
    if len(artists) == 1 and not name:
        return artists[0], ""
    wanted = normalise_name(name)
    same = [a for a in artists if artist_name_key(a) == wanted]
    if len(same) == 1:
        return same[0], ""
    if len(artists) == 1 and not same:
        # The identifier is exact; the name differs (translation, spelling): still this artist.
        return artists[0], f"name differs: {artists[0].get('name')!r}"
    if len(same) > 1:
        return None, f"{len(same)} artists named {name!r} on the same identifier"
    return None, f"{len(artists)} artists on the identifier, none named {name!r}"
