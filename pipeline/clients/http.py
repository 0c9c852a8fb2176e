"""A small HTTP core shared by every client: rate limit, retries, and quota-aware 429s.

Why not each library's own retry? spotipy's urllib3 retry sleeps through ``Retry-After`` (which
can be many hours when Spotify's daily quota is spent) and would hang a worker. Here a 429 whose
wait is longer than ``max_wait_s`` ends the call at once with ``RateLimited(resume_at=...)``; the
caller records it and the next scheduled run continues. Time and sleep are injectable seams
(geopy's ``_clock``/``_sleep`` idea), so tests never sleep.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # loaded with the first client: the errors below are named by modules
    import requests  # that a cycle with nothing to fetch imports (~50 ms of a 0.4 s no-op)

logger = logging.getLogger(__name__)


class HttpError(Exception):
    """A call failed; ``service`` and ``status`` say where and how."""

    def __init__(self, service: str, message: str, status: int | None = None, body: bytes = b""):
        super().__init__(f"{service}: {message}")
        self.service = service
        self.status = status
        self.body = body


class RateLimited(HttpError):
    """429/503 (or a quota) with a wait too long to sit out; resume at ``resume_at`` (UTC).

    ``reason`` is what the service said, e.g. "503 on artist?query=X": the message names that
    status, never a 429 the service did not send.
    """

    def __init__(self, service: str, resume_at: dt.datetime, reason: str = "", body: bytes = b""):
        when = resume_at.strftime("%Y-%m-%d %H:%M UTC")
        has_status = reason[:3].isdigit() and reason[3:4] in ("", " ", ":")
        why = reason if has_status else f"429: {reason}" if reason else "429"
        super().__init__(service, f"rate limited ({why}); resume after {when}", 429, body)
        self.resume_at = resume_at
        self.reason = reason


class NoAnswer(HttpError):
    """No HTTP answer at all after the retries: read timeouts or refused connections."""


class AuthError(HttpError):
    """401 or a refused token: the user must act (e.g. re-authorise)."""


class Forbidden(HttpError):
    """403: not allowed for this app or account (scopes, development mode, Premium)."""


class NotFound(HttpError):
    """404: the entity does not exist (a final answer, not a failure to retry)."""


class BadResponse(HttpError):
    """The service answered 2xx with a body we cannot read (malformed or truncated JSON)."""


@dataclass
class Response:
    """What a call returned: status, parsed JSON (if any) and the raw bytes kept for raw/."""

    status: int
    body: bytes
    headers: Mapping[str, str]
    url: str

    def json(self, service: str = "http") -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadResponse(
                service, f"unreadable JSON from {self.url} ({exc})", self.status, self.body
            ) from exc


#: Added to the documented interval between request starts: 10% of it, at least 50 ms. The
#: limiter measures when a request leaves; the service sees when it arrives, after connection
#: set-up that varies by tens of milliseconds (a reused connection arrives sooner): spaced by
#: exactly 1.0 s, the smallest gap MusicBrainz saw was 0.970 s and 15 of 71 gaps were under 1 s.
RATE_MARGIN = 0.1
RATE_MARGIN_MIN_S = 0.05


class RateLimiter:
    """At least ``min_interval`` (plus ``RATE_MARGIN``) between request starts (MusicBrainz,
    Nominatim: 1/s; Spotify: the configured interval)."""

    def __init__(
        self,
        min_interval: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        margin: float = RATE_MARGIN,
    ) -> None:
        self.min_interval = min_interval
        extra = max(min_interval * margin, RATE_MARGIN_MIN_S) if margin > 0 else 0.0
        self.spacing = min_interval + extra if min_interval > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._last: float | None = None

    def wait(self) -> None:
        """Sleep until the next request may start, then note that it starts now."""
        if self._last is not None and self.spacing > 0:
            remaining = self.spacing - (self._clock() - self._last)
            if remaining > 0:
                self._sleep(remaining)
        self._last = self._clock()


#: One limiter per (service, clock): every client of a service in this process shares it, so
#: two clients made one after the other (two runs, two tasks) cannot start requests too close.
_LIMITERS: dict[tuple[str, Callable[[], float]], RateLimiter] = {}


def shared_limiter(
    service: str,
    min_interval: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RateLimiter:
    """The process-wide limiter of ``service`` on ``clock`` (its interval updated if changed).

    A client without an interval (``min_interval`` 0) gets a limiter of its own that never waits.
    """
    if min_interval <= 0:
        return RateLimiter(0.0, clock=clock, sleep=sleep)
    limiter = _LIMITERS.get((service, clock))
    if limiter is None or limiter.min_interval != min_interval:
        previous = limiter
        limiter = RateLimiter(min_interval, clock=clock, sleep=sleep)
        if previous is not None:
            limiter._last = previous._last
        _LIMITERS[(service, clock)] = limiter
    limiter._sleep = sleep
    return limiter


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


#: The largest answer read, in bytes. Spotify's largest (a 50-item recently-played page) is
#: ~0.4 MB; a huge or endless body from a broken proxy or mirror must not fill the pipeline's
#: 400 MB container (``requests`` would hold all of it; its timeout is per read, so a slow
#: endless body never times out).
MAX_BODY_BYTES = 16 * 1024 * 1024
_BODY_CHUNK = 64 * 1024


def read_body(raw: Any, url: str, service: str) -> bytes:
    """A streamed answer's body, or BadResponse past ``MAX_BODY_BYTES`` (then not read on)."""
    declared = str(raw.headers.get("Content-Length") or "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raw.close()
        raise too_big(service, url, raw.status_code)
    chunks: list[bytes] = []
    size = 0
    for chunk in raw.iter_content(_BODY_CHUNK):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raw.close()
            raise too_big(service, url, raw.status_code)
        chunks.append(chunk)
    return b"".join(chunks)


def too_big(service: str, url: str, status: int | None) -> BadResponse:
    """The error for an answer past ``MAX_BODY_BYTES`` (whichever HTTP stack read it)."""
    limit_mb = MAX_BODY_BYTES // (1024 * 1024)
    return BadResponse(service, f"the answer from {url} is over {limit_mb} MB; not read", status)


class CappedBodies(urllib.request.BaseHandler):
    """A urllib handler: an answer's ``read()`` stops past ``MAX_BODY_BYTES`` (BadResponse).

    musicbrainzngs and geopy read answers with urllib, whole, as ``HttpClient`` did: added to
    their openers, the same limit holds for MusicBrainz and Nominatim.
    """

    handler_order = 1000  # after every other handler has made the response

    def __init__(self, service: str) -> None:
        self.service = service

    def http_response(self, request: Any, response: Any) -> Any:
        whole = response.read
        url = request.full_url
        service = self.service

        def read(amt: int | None = None) -> bytes:
            if amt is not None and amt >= 0:
                return whole(amt)
            data = whole(MAX_BODY_BYTES + 1)
            if len(data) > MAX_BODY_BYTES:
                response.close()
                raise too_big(service, url, response.status)
            return data

        response.read = read
        return response

    https_response = http_response


def header_safe(value: Any) -> bool:
    """A token or session id that can travel in an HTTP header: printable ASCII, no spaces,
    not huge (one with a line break made the HTTP library raise mid-call)."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= 4096
        and value.isascii()
        and value.isprintable()
        and " " not in value
    )


class HttpClient:
    """GET/POST with rate limiting, bounded retries on 5xx/timeouts, and prompt 429 handling."""

    def __init__(
        self,
        service: str,
        base_url: str,
        user_agent: str,
        *,
        min_interval: float = 0.0,
        max_retries: int = 3,
        backoff_s: float = 1.0,
        timeout_s: float = 20.0,
        max_wait_s: float = 60.0,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.user_agent = user_agent
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.max_wait_s = max_wait_s
        if session is None:
            import requests

            session = requests.Session()
        self.session = session
        self.limiter = shared_limiter(service, min_interval, clock, sleep)
        self._sleep = sleep
        self._now = now
        self.calls = 0

    def url(self, path: str) -> str:
        if path.startswith("http://") or path.startswith("https://"):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> Response:
        """One logical call; retried on 5xx and timeouts; raises the typed errors above."""
        import requests

        url = self.url(path)
        all_headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        all_headers.update(headers or {})
        attempt = 0
        while True:
            attempt += 1
            self.limiter.wait()
            self.calls += 1
            try:
                raw = self.session.request(
                    method,
                    url,
                    params=params,
                    headers=all_headers,
                    data=data,
                    json=json_body,
                    timeout=self.timeout_s,
                    stream=True,  # read by read_body, never more than MAX_BODY_BYTES
                )
                content = read_body(raw, url, self.service)
            except (
                requests.Timeout,
                requests.ConnectionError,
                requests.exceptions.ChunkedEncodingError,  # the answer broke off mid-body
            ) as exc:
                if attempt > self.max_retries:
                    what = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
                    raise NoAnswer(
                        self.service,
                        f"no answer from {url}: {what} {attempt} times "
                        f"({exc.__class__.__name__}, timeout {self.timeout_s:g} s)",
                    ) from exc
                self._backoff(attempt, f"{exc.__class__.__name__}")
                continue
            except requests.RequestException as exc:
                # Not worth a retry (endless redirects, an address the library cannot use):
                # the caller's HttpError, not a traceback in the middle of a run.
                raise HttpError(
                    self.service, f"{url}: {exc.__class__.__name__}: {str(exc)[:200]}"
                ) from exc
            response = Response(raw.status_code, content, dict(raw.headers), url)
            status = raw.status_code
            if status == 429:
                wait = parse_retry_after(raw.headers.get("Retry-After"), self._now())
                reason = _reason(content)
                if wait is not None and wait <= self.max_wait_s and attempt <= self.max_retries:
                    logger.info(
                        "%s: 429 on %s, retry in %.0f s (Retry-After)", self.service, url, wait
                    )
                    self._sleep(wait)
                    continue
                resume = self._now() + dt.timedelta(seconds=wait if wait is not None else 3600)
                raise RateLimited(self.service, resume, reason, content)
            if status >= 500:
                if attempt > self.max_retries:
                    raise HttpError(
                        self.service,
                        f"{status} from {url} after {attempt} tries",
                        status,
                        content,
                    )
                self._backoff(attempt, str(status))
                continue
            if status == 401:
                raise AuthError(self.service, f"401 unauthorised for {url}", status, content)
            if status == 403:
                raise Forbidden(
                    self.service,
                    f"403 forbidden for {url}: {_reason(content)}",
                    status,
                    content,
                )
            if status == 404:
                raise NotFound(self.service, f"404 not found: {url}", status, content)
            if status >= 400:
                raise HttpError(
                    self.service,
                    f"{status} from {url}: {_reason(content)}",
                    status,
                    content,
                )
            return response

    def get(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Response:
        return self.request("GET", path, params=params, **kw)

    def _backoff(self, attempt: int, why: str) -> None:
        delay = self.backoff_s * (2 ** (attempt - 1))
        logger.info("%s: %s, retry %d in %.1f s", self.service, why, attempt, delay)
        self._sleep(delay)


def _reason(body: bytes) -> str:
    """A short reason from an error body ({"error": {"message", "reason"}} or text)."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return body[:200].decode("utf-8", "replace")
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            return str(err.get("reason") or err.get("message") or err)
        if err:
            return str(data.get("error_description") or err)
    return str(data)[:200]
