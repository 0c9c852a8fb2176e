"""Spotify track/album/artist JSON -> lookup rows (schemas.SPOTIFY_*), and the recently-played
harvest: polled plays already carry full track objects, so their metadata costs no call."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

FOUND = "found"

_SPOTIFY_ID = re.compile(r"^[0-9A-Za-z]{22}$")


def is_spotify_id(value: str | None) -> bool:
    """Whether ``value`` looks like a Spotify base-62 ID (local files have none)."""
    return bool(value) and bool(_SPOTIFY_ID.match(value or ""))


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _ids(objects: Any) -> list[str]:
    return [str(o["id"]) for o in objects or [] if isinstance(o, dict) and o.get("id")]


def _names(objects: Any) -> list[str]:
    return [str(o.get("name") or "") for o in objects or [] if isinstance(o, dict) and o.get("id")]


def track_row(track: dict[str, Any], source: str, fetched_at: dt.datetime) -> dict[str, Any]:
    """A SPOTIFY_TRACKS row: every credited artist kept, in credit order."""
    album = track.get("album") or {}
    return {
        "track_id": str(track["id"]),
        "track_name": track.get("name"),
        "isrc": (track.get("external_ids") or {}).get("isrc"),
        "album_id": album.get("id"),
        "artist_ids": _ids(track.get("artists")),
        "artist_names": _names(track.get("artists")),
        "duration_ms": _int(track.get("duration_ms")),
        "track_number": _int(track.get("track_number")),
        "disc_number": _int(track.get("disc_number")),
        "popularity": _int(track.get("popularity")),
        "is_explicit": track.get("explicit") if isinstance(track.get("explicit"), bool) else None,
        "status": FOUND,
        "source": source,
        "fetched_at": fetched_at,
    }


def album_row(album: dict[str, Any], source: str, fetched_at: dt.datetime) -> dict[str, Any]:
    """A SPOTIFY_ALBUMS row (label and UPC only come from the full album object)."""
    return {
        "album_id": str(album["id"]),
        "album_name": album.get("name"),
        "album_type": album.get("album_type"),
        "artist_ids": _ids(album.get("artists")),
        "release_date": album.get("release_date"),
        "release_date_precision": album.get("release_date_precision"),
        "total_tracks": _int(album.get("total_tracks")),
        "label": album.get("label"),
        "upc": (album.get("external_ids") or {}).get("upc"),
        "status": FOUND,
        "source": source,
        "fetched_at": fetched_at,
    }


def artist_row(artist: dict[str, Any], source: str, fetched_at: dt.datetime) -> dict[str, Any]:
    """A SPOTIFY_ARTISTS row (popularity/followers are gone for new apps; kept when present)."""
    followers = artist.get("followers")
    return {
        "artist_id": str(artist["id"]),
        "artist_name": artist.get("name"),
        "genres": [str(g) for g in artist.get("genres") or []] if "genres" in artist else None,
        "popularity": _int(artist.get("popularity")),
        "followers": _int(followers.get("total")) if isinstance(followers, dict) else None,
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
            for artist in album.get("artists") or []:
                if isinstance(artist, dict) and is_spotify_id(artist.get("id")):
                    self.artists.setdefault(str(artist["id"]), artist)
        for artist in track.get("artists") or []:
            if isinstance(artist, dict) and is_spotify_id(artist.get("id")):
                self.artists.setdefault(str(artist["id"]), artist)


def harvest_recently_played(pages: Iterable[dict[str, Any]]) -> Harvest:
    """Every track object in recently-played pages (``items[].track``), deduplicated by ID."""
    harvest = Harvest()
    for page in pages:
        for item in (page or {}).get("items") or []:
            if isinstance(item, dict):
                harvest.add_track(item.get("track") or {})
    return harvest
