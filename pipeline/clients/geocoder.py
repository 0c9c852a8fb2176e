"""Nominatim through geopy: one request per second for the whole app, blocks never hidden.

Requests are spaced by the project's limiter (``pipeline.clients.http.shared_limiter``): at
least ``min_delay_seconds`` (1 s, Nominatim's usage policy) plus a safety margin between request
*starts*, shared by every Geocoder of the process. Retries are decided here, not by geopy's
``RateLimiter``: that one waits a fixed ``error_wait_seconds`` after any service error (a 429
asking for 20 s was retried after 5 s) and logs each retry with a full traceback. Here a 429 is
retried after exactly its Retry-After when that is at most ``max_wait_seconds``; a longer one
raises ``RateLimited`` and the run pauses. Other service errors (5xx, timeouts, unreadable
answers) wait ``error_wait_seconds`` and are retried ``max_retries`` times, one log line each.

A place is asked with its country (``countrycodes``) and, when MusicBrainz gives the area's type,
as a structured query (``city=``, ``state=``, ``county=``, ``country=``), so a city is not
confused with a street or county of the same name (``pipeline.transform.geo.Place``).

Results are requested with ``addressdetails`` so city, region and the ISO country code come back
as fields. Attribution (required wherever the results are shown, e.g. the Metabase map):
"Data © OpenStreetMap contributors, ODbL 1.0. https://osm.org/copyright"
(``nominatim.attribution``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from geopy.adapters import URLLibAdapter
from geopy.exc import GeocoderParseError, GeocoderRateLimited, GeocoderServiceError
from geopy.geocoders import Nominatim

from pipeline.clients.http import (
    BadResponse,
    CappedBodies,
    HttpError,
    RateLimited,
    shared_limiter,
    utcnow,
)
from pipeline.settings import NominatimSettings

logger = logging.getLogger(__name__)

SERVICE = "nominatim"

#: What ``geocode`` is asked: free text, or a structured query ({"city": "Bergen"}).
Query = str | dict[str, str]


def describe(query: Query, country_code: str | None) -> str:
    """A query as one short text for logs and raw/ ("city=Bergen&countrycodes=no")."""
    parts = [f"{k}={v}" for k, v in query.items()] if isinstance(query, dict) else [f"q={query}"]
    if country_code:
        parts.append(f"countrycodes={country_code.lower()}")
    return "&".join(parts)


class Geocoder:
    """Geocode one place (optionally restricted to a country) into a raw Nominatim result."""

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
        self._sleep = sleep
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
        # No answer read past MAX_BODY_BYTES (the adapter's opener, geopy's own attribute).
        self.geolocator.adapter.urlopen.__self__.add_handler(CappedBodies(SERVICE))
        self.limiter = shared_limiter(SERVICE, settings.min_delay_seconds, clock, sleep)

    def _geocode_once(self, query: Query, country_code: str | None) -> Any:
        self.limiter.wait()
        self.calls += 1
        fetched_at = self._now()
        what = describe(query, country_code)
        try:
            location = self.geolocator.geocode(
                query,
                exactly_one=True,
                addressdetails=True,
                language=self.settings.language,
                country_codes=country_code.lower() if country_code else None,
            )
        except GeocoderRateLimited:
            self._keep(what, fetched_at, 429, None)
            raise
        except GeocoderServiceError as exc:
            self._keep(what, fetched_at, 0, None, error=str(exc))
            refused = exc.__cause__ or exc.__context__  # geopy re-raises what read() raised
            if isinstance(refused, BadResponse):  # CappedBodies: too big, not retried
                raise refused from None
            raise
        self._keep(what, fetched_at, 200, location.raw if location is not None else [])
        return location

    def geocode(self, query: Query, country_code: str | None = None) -> dict[str, Any] | None:
        """The first result's raw JSON (with ``address``), or None when Nominatim has none.

        Raises ``RateLimited`` for a long quota wait, ``HttpError`` after retries are spent.
        """
        what = describe(query, country_code)
        attempt = 0
        while True:
            attempt += 1
            try:
                location = self._geocode_once(query, country_code)
            except GeocoderRateLimited as exc:
                wait = exc.retry_after
                if wait is not None and wait > self.settings.max_wait_seconds:
                    resume = self._now() + dt.timedelta(seconds=wait)
                    raise RateLimited(SERVICE, resume, f"429 on {what}") from exc
                delay = float(wait) if wait is not None else self.settings.error_wait_seconds
                if attempt > self.settings.max_retries:
                    resume = self._now() + dt.timedelta(seconds=delay)
                    raise RateLimited(
                        SERVICE, resume, f"429 on {what} after {attempt} tries"
                    ) from exc
                logger.info("nominatim: 429 on %s, retry in %.0f s (Retry-After)", what, delay)
                self._sleep(delay)
                continue
            except GeocoderParseError as exc:
                if attempt <= self.settings.max_retries:
                    self._retry(what, "unreadable answer")
                    continue
                # geopy's message carries the whole body; say what happened instead.
                raise BadResponse(
                    SERVICE,
                    f"geocoding {what} failed: the answer is not readable JSON "
                    f"(truncated or malformed, {attempt} tries)",
                    200,
                ) from exc
            except GeocoderServiceError as exc:
                if attempt <= self.settings.max_retries:
                    self._retry(what, _one_line(exc))
                    continue
                raise HttpError(
                    SERVICE, f"geocoding {what} failed after {attempt} tries: {_one_line(exc)}"
                ) from exc
            return None if location is None else dict(location.raw)

    def _retry(self, what: str, why: str) -> None:
        delay = max(self.settings.error_wait_seconds, self.settings.min_delay_seconds)
        logger.info("nominatim: %s on %s, retry in %.0f s", why, what, delay)
        self._sleep(delay)

    def _keep(
        self,
        what: str,
        fetched_at: dt.datetime,
        status: int,
        body: Any,
        error: str | None = None,
    ) -> None:
        self.responses.append(
            {
                "service": SERVICE,
                "request": f"search?{what}",
                "status": status,
                "fetched_at": fetched_at.isoformat(),
                "body": json.dumps(body, ensure_ascii=False) if body is not None else error,
            }
        )


def _one_line(exc: Exception) -> str:
    """An exception as one short line (geopy's messages can carry a whole body)."""
    text = " ".join(str(exc).split())
    return text[:200] + ("..." if len(text) > 200 else "")
