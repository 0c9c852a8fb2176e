"""Spotify catalogue lookups, one item per call: ``tracks/{id}``, ``albums/{id}``, ``artists/{id}``.

Only the per-item endpoints: for development-mode apps the batch ``?ids=`` endpoints answer 403
(spotipy still offers them). Built on the shared ``HttpClient`` so a 429 with a Retry-After of
many hours (the daily quota) raises ``RateLimited`` at once instead of sleeping.

The access token comes from a ``token`` callable (the Spotify auth module owns refreshing and
caching it); this client never sees client secrets and never logs the token.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import requests

from pipeline.clients.http import HttpClient, utcnow
from pipeline.settings import SpotifyCatalogueSettings
from pipeline.transform.spotify_catalogue import is_spotify_id as is_spotify_id  # re-exported

SERVICE = "spotify_api"
TokenProvider = Callable[[], str]


class SpotifyCatalogue:
    """GET one track, album or artist; returns the parsed JSON object."""

    def __init__(
        self,
        settings: SpotifyCatalogueSettings,
        token: TokenProvider,
        *,
        user_agent: str = "music-tracker",
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.token = token
        self._now = now
        self.http = HttpClient(
            SERVICE,
            settings.base_url,
            user_agent,
            min_interval=settings.min_interval_seconds,
            max_retries=settings.max_retries,
            backoff_s=settings.backoff_seconds,
            timeout_s=settings.timeout_seconds,
            max_wait_s=settings.max_wait_seconds,
            session=session,
            clock=clock,
            sleep=sleep,
            now=now,
        )
        self.responses: list[dict[str, Any]] = []

    @property
    def calls(self) -> int:
        return self.http.calls

    def _get(self, kind: str, item_id: str) -> dict[str, Any]:
        if not is_spotify_id(item_id):
            raise ValueError(f"not a Spotify ID: {item_id!r}")
        path = f"{kind}/{item_id}"
        fetched_at = self._now()
        response = self.http.get(path, headers={"Authorization": f"Bearer {self.token()}"})
        self.responses.append(
            {
                "service": SERVICE,
                "request": path,
                "status": response.status,
                "fetched_at": fetched_at.isoformat(),
                "body": response.body.decode("utf-8", "replace"),
            }
        )
        data = response.json(SERVICE)
        if not isinstance(data, dict):  # a mirror's error page as a list, say: this key fails
            raise ValueError(f"{path}: the answer is a JSON {type(data).__name__}, not an object")
        return data

    def track(self, track_id: str) -> dict[str, Any]:
        return self._get("tracks", track_id)

    def album(self, album_id: str) -> dict[str, Any]:
        return self._get("albums", album_id)

    def artist(self, artist_id: str) -> dict[str, Any]:
        return self._get("artists", artist_id)
