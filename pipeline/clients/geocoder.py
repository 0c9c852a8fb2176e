"""Nominatim through geopy: one request per second for the whole app, blocks never hidden.

geopy's ``RateLimiter`` is used with ``min_delay_seconds`` (1 s, Nominatim's usage policy) and
``swallow_exceptions=False``: its default turns a block or an outage into ``None``, which would be
cached as "no such place". Its ``_clock``/``_sleep`` seams are set from the injected clock and
sleep, so tests never sleep. A 429 whose Retry-After is longer than ``max_wait_seconds`` is
raised as ``RateLimited`` *inside* the wrapped call, so the RateLimiter (which retries only
geopy's own service errors) passes it straight through and the run ends at once.

Results are requested with ``addressdetails`` so city, region and the ISO country code come back
as fields. Attribution (required wherever the results are shown, e.g. the Metabase map):
"Data © OpenStreetMap contributors, ODbL 1.0. https://osm.org/copyright"
(``nominatim.attribution``).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

from geopy.adapters import URLLibAdapter
from geopy.exc import GeocoderParseError, GeocoderRateLimited, GeocoderServiceError
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import Nominatim

from pipeline.clients.http import BadResponse, HttpError, RateLimited, utcnow
from pipeline.enrich.config import NominatimSettings

SERVICE = "nominatim"


class Geocoder:
    """Geocode one place name (optionally restricted to a country) into a raw Nominatim result."""

    def __init__(
        self,
        settings: NominatimSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        if not settings.user_agent:
            raise ValueError(
                "nominatim.user_agent is empty: Nominatim requires an identifying User-Agent; "
                "set it in config or MUSIC_TRACKER__NOMINATIM__USER_AGENT"
            )
        self.settings = settings
        self._now = now
        self.calls = 0
        self.responses: list[dict[str, Any]] = []
        self.geolocator = Nominatim(
            user_agent=settings.user_agent,
            domain=settings.domain,
            scheme=settings.scheme,
            timeout=settings.timeout_seconds,
            # Not geopy's default requests adapter: its urllib3 retry sleeps through a 429's
            # Retry-After (hours, for a quota) inside the call. urllib raises, we decide.
            adapter_factory=URLLibAdapter,
        )
        self.limited = RateLimiter(
            self._geocode_once,
            min_delay_seconds=settings.min_delay_seconds,
            max_retries=settings.max_retries,
            error_wait_seconds=max(settings.error_wait_seconds, settings.min_delay_seconds),
            swallow_exceptions=False,
        )
        # geopy's documented test seams (test/extra/rate_limiter.py patches the same two).
        self.limited._clock = clock  # type: ignore[method-assign]
        self.limited._sleep = sleep  # type: ignore[method-assign]

    def _geocode_once(self, query: str, country_code: str | None) -> Any:
        self.calls += 1
        fetched_at = self._now()
        try:
            location = self.geolocator.geocode(
                query,
                exactly_one=True,
                addressdetails=True,
                language=self.settings.language,
                country_codes=country_code.lower() if country_code else None,
            )
        except GeocoderRateLimited as exc:
            self._keep(query, fetched_at, 429, None)
            wait = exc.retry_after
            if wait is not None and wait > self.settings.max_wait_seconds:
                resume = self._now() + dt.timedelta(seconds=wait)
                raise RateLimited(SERVICE, resume, "429 from Nominatim") from exc
            raise
        except GeocoderServiceError as exc:
            self._keep(query, fetched_at, 0, None, error=str(exc))
            raise
        self._keep(query, fetched_at, 200, location.raw if location is not None else [])
        return location

    def geocode(self, query: str, country_code: str | None = None) -> dict[str, Any] | None:
        """The first result's raw JSON (with ``address``), or None when Nominatim has none.

        Raises ``RateLimited`` for a long quota wait, ``HttpError`` after retries are spent.
        """
        try:
            location = self.limited(query, country_code)
        except GeocoderParseError as exc:
            # geopy's message carries the whole body; say what happened instead.
            raise BadResponse(
                SERVICE,
                f"geocoding {query!r} failed: the answer is not readable JSON "
                f"(truncated or malformed, {self.settings.max_retries + 1} tries)",
                200,
            ) from exc
        except GeocoderServiceError as exc:
            raise HttpError(SERVICE, f"geocoding {query!r} failed: {exc}") from exc
        return None if location is None else dict(location.raw)

    def _keep(
        self,
        query: str,
        fetched_at: dt.datetime,
        status: int,
        body: Any,
        error: str | None = None,
    ) -> None:
        self.responses.append(
            {
                "service": SERVICE,
                "request": f"search?q={query}",
                "status": status,
                "fetched_at": fetched_at.isoformat(),
                "body": json.dumps(body, ensure_ascii=False) if body is not None else error,
            }
        )
