"""Stable identifiers derived from content, so the same play always gets the same key."""

from __future__ import annotations

import hashlib


def play_id(account: str, played_at_ms: int, content_key: str) -> str:
    """The key of one play: who, when it ended (ms since epoch), and what was played."""
    raw = f"{account}\x1f{played_at_ms}\x1f{content_key}".encode()
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


def content_key(
    track_id: str | None,
    episode_id: str | None,
    chapter_id: str | None,
    artist_name: str | None,
    track_name: str | None,
) -> str:
    """What was played: a Spotify ID when there is one, else the normalised names."""
    if track_id:
        return f"track:{track_id}"
    if episode_id:
        return f"episode:{episode_id}"
    if chapter_id:
        return f"chapter:{chapter_id}"
    return f"name:{(artist_name or '').strip().casefold()}|{(track_name or '').strip().casefold()}"


def file_id(data: bytes) -> str:
    """Content hash of an imported file: the same bytes are imported once."""
    return hashlib.sha256(data).hexdigest()[:16]
