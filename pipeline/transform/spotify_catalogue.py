"""Spotify track/album/artist JSON -> lookup rows (schemas.SPOTIFY_*), and the recently-played
harvest: polled plays already carry full track objects, so their metadata costs no call."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pipeline.transform import clean

FOUND = "found"

_SPOTIFY_ID = re.compile(r"^[0-9A-Za-z]{22}$")


def is_spotify_id(value: Any) -> bool:
    """Whether ``value`` looks like a Spotify base-62 ID (local files have none)."""
    return isinstance(value, str) and bool(_SPOTIFY_ID.match(value))


def _ids(objects: Any) -> list[str]:
    """The IDs of a list of simplified objects (artists), in order; unusable ones left out."""
    return [
        o["id"] for o in clean.items(objects) if isinstance(o, dict) and is_spotify_id(o.get("id"))
    ]


def _names(objects: Any) -> list[str]:
    """The names of the objects ``_ids`` keeps, in the same order (blank when unusable)."""
    return [
        clean.text(o.get("name")) or ""
        for o in clean.items(objects)
        if isinstance(o, dict) and is_spotify_id(o.get("id"))
    ]


def track_row(track: dict[str, Any], source: str, fetched_at: dt.datetime | None) -> dict[str, Any]:
    """A SPOTIFY_TRACKS row: every credited artist kept, in credit order.

    Every field through ``clean``: a value of the wrong type becomes null, not a failed run.
    """
    album = clean.obj(track.get("album"))
    return {
        "track_id": str(track["id"]),
        "track_name": clean.text(track.get("name")),
        "isrc": clean.text(clean.obj(track.get("external_ids")).get("isrc")),
        "album_id": album.get("id") if is_spotify_id(album.get("id")) else None,
        "artist_ids": _ids(track.get("artists")),
        "artist_names": _names(track.get("artists")),
        "duration_ms": clean.integer(track.get("duration_ms")),
        "track_number": clean.integer(track.get("track_number")),
        "disc_number": clean.integer(track.get("disc_number")),
        "popularity": clean.integer(track.get("popularity")),
        "is_explicit": clean.flag(track.get("explicit")),
        "status": FOUND,
        "source": source,
        "fetched_at": fetched_at,
    }


def album_row(album: dict[str, Any], source: str, fetched_at: dt.datetime) -> dict[str, Any]:
    """A SPOTIFY_ALBUMS row (label and UPC only come from the full album object)."""
    return {
        "album_id": str(album["id"]),
        "album_name": clean.text(album.get("name")),
        "album_type": clean.text(album.get("album_type")),
        "artist_ids": _ids(album.get("artists")),
        "release_date": clean.text(album.get("release_date")),
        "release_date_precision": clean.text(album.get("release_date_precision")),
        "total_tracks": clean.integer(album.get("total_tracks")),
        "label": clean.text(album.get("label")),
        "upc": clean.text(clean.obj(album.get("external_ids")).get("upc")),
        "status": FOUND,
        "source": source,
        "fetched_at": fetched_at,
    }


def artist_row(artist: dict[str, Any], source: str, fetched_at: dt.datetime) -> dict[str, Any]:
    """A SPOTIFY_ARTISTS row (popularity/followers are gone for new apps; kept when present)."""
    return {
        "artist_id": str(artist["id"]),
        "artist_name": clean.text(artist.get("name")),
        "genres": clean.texts(artist.get("genres")) if "genres" in artist else None,
        "popularity": clean.integer(artist.get("popularity")),
        "followers": clean.integer(clean.obj(artist.get("followers")).get("total")),
        "status": FOUND,
        "source": source,
        "fetched_at": fetched_at,
    }


def missing_row(
    key_field: str, key: str, status: str, source: str, fetched_at: dt.datetime
) -> dict[str, Any]:
    """A row that records a not_found/failed lookup (every other column null)."""
    return {key_field: key, "status": status, "source": source, "fetched_at": fetched_at}


@dataclass
class Harvest:
    """Tracks, albums and artists found inside recently-played responses."""

    tracks: dict[str, dict[str, Any]] = field(default_factory=dict)
    albums: dict[str, dict[str, Any]] = field(default_factory=dict)
    artists: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_track(self, track: dict[str, Any]) -> None:
        """Keep the track and the simplified album/artist objects it carries."""
        if not isinstance(track, dict) or not is_spotify_id(track.get("id")):
            return
        self.tracks.setdefault(str(track["id"]), track)
        album = track.get("album")
        if isinstance(album, dict) and is_spotify_id(album.get("id")):
            self.albums.setdefault(str(album["id"]), album)
            for artist in clean.items(album.get("artists")):
                if isinstance(artist, dict) and is_spotify_id(artist.get("id")):
                    self.artists.setdefault(str(artist["id"]), artist)
        for artist in clean.items(track.get("artists")):
            if isinstance(artist, dict) and is_spotify_id(artist.get("id")):
                self.artists.setdefault(str(artist["id"]), artist)


def harvest_recently_played(pages: Iterable[dict[str, Any]]) -> Harvest:
    """Every track object in recently-played pages (``items[].track``), deduplicated by ID."""
    harvest = Harvest()
    for page in pages:
        for item in clean.items(clean.obj(page).get("items")):
            if isinstance(item, dict):
                harvest.add_track(item.get("track") or {})
    return harvest
