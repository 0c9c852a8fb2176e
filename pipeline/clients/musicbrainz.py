"""MusicBrainz ws/2 through musicbrainzngs: one request per second, typed errors, raw kept.

musicbrainzngs keeps its settings in module globals and has its own rate limiter and retry loop
(eight tries, sleeping up to 14 s each, ignoring Retry-After). This client owns those instead:
it turns musicbrainzngs' limiter off and its retries down to a single try, then applies the
project's policy with an injectable clock and sleep (``pipeline.clients.http.RateLimiter``):
at most one request per ``min_interval_seconds``, bounded backoff on 503/5xx, and a 429/503 whose
Retry-After is longer than ``max_wait_seconds`` ends the call at once with ``RateLimited`` so the
run stops and the next one resumes. The User-Agent carries the configured contact, as
MusicBrainz requires; ``base_url`` can point at a self-hosted mirror.

``format`` "json" (default) asks the server for its JSON; "xml" uses musicbrainzngs' own XML
parser. ``pipeline.transform.musicbrainz`` reads both shapes.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import urllib.error
import warnings
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import musicbrainzngs
from musicbrainzngs import musicbrainz as _mb

from pipeline.clients.http import (
    BadResponse,
    CappedBodies,
    HttpError,
    NotFound,
    RateLimited,
    parse_retry_after,
    shared_limiter,
    utcnow,
)
from pipeline.settings import MusicBrainzSettings

logger = logging.getLogger(__name__)

SERVICE = "musicbrainz"
_ORIGINAL_SAFE_READ = _mb._safe_read


def _capped_safe_read(opener: Any, req: Any, body: Any = None, **_: Any) -> bytes:
    """musicbrainzngs' read with one try, and no answer read past ``MAX_BODY_BYTES``."""
    opener.add_handler(CappedBodies(SERVICE))
    return bytes(_ORIGINAL_SAFE_READ(opener, req, body, max_retries=1))


class _QuietXmlParser(logging.Filter):
    """Drops musicbrainzngs' "in <ws2:artist>, uncaught attribute type-id" lines, and its
    "HTTP error 503" lines.

    Its XML parser logs one per element or attribute it has no field for, about seven per
    artist search on today's answers: noise that says nothing about the lookup (what is parsed
    is kept, the raw body is in raw/). An HTTP error is reported by this client, in one line
    that says what was asked and what happens next; musicbrainzngs' own line would be a second.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg if isinstance(record.msg, str) else ""
        return not (
            msg.startswith("in <%s>, uncaught")
            or msg.startswith("HTTP error ")
            or msg.startswith("unknown HTTP error ")
        )


_QUIET = _QuietXmlParser()


def spotify_artist_url(artist_id: str) -> str:
    """The URL MusicBrainz stores in an artist's "free streaming" relation."""
    return f"https://open.spotify.com/artist/{artist_id}"


class MusicBrainzClient:
    """Artist lookups, URL lookups, ISRC lookups and artist search, rationed and logged."""

    def __init__(
        self,
        settings: MusicBrainzSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        if not settings.contact:
            raise ValueError(
                "musicbrainz.contact is empty: MusicBrainz requires contact info (an e-mail or "
                "URL) in the User-Agent; set it in config or MUSIC_TRACKER__MUSICBRAINZ__CONTACT"
            )
        if settings.format not in ("json", "xml"):
            raise ValueError(f"musicbrainz.format: {settings.format!r} is not json or xml")
        self.settings = settings
        self.limiter = shared_limiter(SERVICE, settings.min_interval_seconds, clock, sleep)
        self._sleep = sleep
        self._now = now
        self.calls = 0
        #: Every response of this client, for raw/ (what was asked, when, the body as received).
        self.responses: list[dict[str, Any]] = []
        self._last_body: bytes = b""
        self._configure()

    # ---------- musicbrainzngs globals
    def _configure(self) -> None:
        s = self.settings
        parsed = urlparse(s.base_url if "://" in s.base_url else f"https://{s.base_url}")
        musicbrainzngs.set_useragent(s.app_name, s.app_version, s.contact)
        musicbrainzngs.set_hostname(parsed.netloc, use_https=parsed.scheme == "https")
        musicbrainzngs.set_rate_limit(False)  # this client limits (with a testable clock)
        ngs_log = logging.getLogger("musicbrainzngs")
        if _QUIET not in ngs_log.filters:
            ngs_log.addFilter(_QUIET)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            musicbrainzngs.set_format(s.format)
        base_parser = _mb.parser_fun

        def keep_raw(body: bytes) -> Any:
            self._last_body = body
            try:
                return base_parser(body)
            except (ValueError, musicbrainzngs.ResponseError) as exc:
                # A 200 whose body is cut off or garbled: json.loads raises ValueError, the
                # XML parser a ResponseError. Not a crash of the whole run: one failed lookup.
                raise BadResponse(
                    SERVICE, f"unreadable {s.format.upper()} in a 200 answer ({exc})", 200, body
                ) from exc

        musicbrainzngs.set_parser(keep_raw)
        # One try inside musicbrainzngs; retries and waits are decided here.
        _mb._safe_read = _capped_safe_read

    # ---------- the one place a request is made
    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            attempt += 1
            self.limiter.wait()
            self.calls += 1
            self._last_body = b""
            fetched_at = self._now()
            try:
                result = fn(*args, **kwargs)
            except BadResponse as exc:
                self._keep(what, fetched_at, 200, self._last_body)
                detail = str(exc).removeprefix(f"{SERVICE}: ")
                raise BadResponse(SERVICE, f"{what}: {detail}", 200, exc.body) from exc
            except musicbrainzngs.ResponseError as exc:
                code = _code(exc)
                self._keep(what, fetched_at, code or 400, _body(exc))
                if code == 404:
                    raise NotFound(SERVICE, f"{what}: not found", 404) from exc
                raise HttpError(SERVICE, f"{what}: {code} bad request", code) from exc
            except musicbrainzngs.NetworkError as exc:
                code = _code(exc)
                self._keep(what, fetched_at, code or 0, _body(exc))
                if code in (429, 503):
                    wait = parse_retry_after(_header(exc, "Retry-After"), self._now())
                    if wait is not None and wait > self.settings.max_wait_seconds:
                        resume = self._now() + dt.timedelta(seconds=wait)
                        raise RateLimited(SERVICE, resume, f"{code} on {what}") from exc
                    if attempt <= self.settings.max_retries:
                        delay = wait if wait is not None else self._backoff(attempt)
                        logger.info("musicbrainz: %s on %s, retry in %.0f s", code, what, delay)
                        self._sleep(delay)
                        continue
                    raise HttpError(SERVICE, f"{what}: {code} after {attempt} tries", code) from exc
                if attempt <= self.settings.max_retries:
                    delay = self._backoff(attempt)
                    logger.info("musicbrainz: %s on %s, retry in %.0f s", code or exc, what, delay)
                    self._sleep(delay)
                    continue
                if code:
                    raise HttpError(SERVICE, f"{what}: {code} after {attempt} tries", code) from exc
                cause = _cause(exc) or exc
                raise HttpError(
                    SERVICE, f"{what}: no answer after {attempt} tries ({cause})", code
                ) from exc
            except musicbrainzngs.WebServiceError as exc:
                self._keep(what, fetched_at, _code(exc) or 0, _body(exc))
                raise HttpError(SERVICE, f"{what}: {exc}", _code(exc)) from exc
            self._keep(what, fetched_at, 200, self._last_body)
            return result

    def _backoff(self, attempt: int) -> float:
        return float(self.settings.backoff_seconds * (2 ** (attempt - 1)))

    def _keep(self, what: str, fetched_at: dt.datetime, status: int, body: bytes) -> None:
        self.responses.append(
            {
                "service": SERVICE,
                "request": what,
                "status": status,
                "fetched_at": fetched_at.isoformat(),
                "body": body.decode("utf-8", "replace"),
            }
        )

    # ---------- endpoints
    def lookup_artist(self, mbid: str) -> dict[str, Any]:
        """GET /ws/2/artist/<mbid>?inc=tags+url-rels: tags, areas, life-span, links."""
        result = self._call(
            f"artist/{mbid}", musicbrainzngs.get_artist_by_id, mbid, includes=["tags", "url-rels"]
        )
        return dict(result)

    def lookup_url(self, resource: str) -> dict[str, Any]:
        """GET /ws/2/url?resource=<url>&inc=artist-rels: which artist links to this URL."""
        result = self._call(
            f"url?resource={resource}", musicbrainzngs.browse_urls, resource, ["artist-rels"]
        )
        return dict(result)

    def lookup_isrc(self, isrc: str) -> dict[str, Any]:
        """GET /ws/2/isrc/<isrc>?inc=artists: the recordings (and their credits) of an ISRC."""
        result = self._call(
            f"isrc/{isrc}", musicbrainzngs.get_recordings_by_isrc, isrc, includes=["artists"]
        )
        return dict(result)

    def search_artists(self, name: str) -> dict[str, Any]:
        """GET /ws/2/artist?query=artist:<name>: candidates with scores, tags and areas."""
        result = self._call(
            f"artist?query={name}",
            musicbrainzngs.search_artists,
            artist=name,
            limit=self.settings.search_limit,
        )
        return dict(result)

    def genres_txt(self) -> str:
        """GET /ws/2/genre/all?fmt=txt: MusicBrainz's official genre list, one per line."""

        def fetch() -> str:
            # musicbrainzngs forces fmt=<format> unless it is in XML mode; fmt=txt is wanted here.
            saved = _mb.ws_format
            _mb.ws_format = "xml"
            try:
                return str(_mb._mb_request("genre/all", args={"fmt": "txt"}))
            finally:
                _mb.ws_format = saved

        previous = _mb.parser_fun
        musicbrainzngs.set_parser(lambda body: body.decode("utf-8"))
        try:
            return str(self._call("genre/all?fmt=txt", fetch))
        finally:
            musicbrainzngs.set_parser(previous)


def _cause(exc: Exception) -> Any:
    return getattr(exc, "cause", None)


def _code(exc: Exception) -> int | None:
    cause = _cause(exc)
    code = getattr(cause, "code", None)
    return int(code) if isinstance(code, int) else None


def _header(exc: Exception, name: str) -> str | None:
    headers = getattr(_cause(exc), "headers", None)
    return headers.get(name) if headers is not None else None


def _body(exc: Exception) -> bytes:
    cause = _cause(exc)
    if isinstance(cause, urllib.error.HTTPError):
        try:
            return cause.read() or b""
        except Exception:  # noqa: BLE001 - a body we cannot read is just not kept
            return b""
    return b""
