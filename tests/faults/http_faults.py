"""Faulty services for tests: vcrpy cassettes built from the real payloads in tests/fixtures, in
which chosen requests answer 500, 503, 429, time out, or return a 200 whose JSON is cut in half.

A read timeout cannot be stored in a cassette, so its interaction carries the header
``X-Fault-Injected: read-timeout`` and ``faulty_services()`` makes vcrpy's connection raise
``socket.timeout`` for it, where a real socket read would. Each HTTP stack then reacts as it
does in production: urllib3/requests turn it into ``requests.exceptions.ReadTimeout`` (Spotify),
urllib and musicbrainzngs / geopy see the ``TimeoutError`` themselves (MusicBrainz, Nominatim).

Time: ``tests.fake_time.FakeTime`` is the clock, sleep and "now" of an enrichment run (the
``RunContext`` seams), so backoff and rate limits never sleep for real and a "later run" is an
hour or a day later.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import vcr
import vcr.stubs
import yaml

FAULTS = ("500", "503", "429", "timeout", "truncated")
#: Retry-After of the 429s: longer than every service's ``max_wait``, so the run ends at once.
RETRY_AFTER_S = 120
TIMEOUT_HEADER = "X-Fault-Injected"


def reply(
    uri: str, code: int, message: str, text: str, headers: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """One recorded interaction (vcrpy's cassette format)."""
    return {
        "request": {"body": None, "headers": {}, "method": "GET", "uri": uri},
        "response": {
            "status": {"code": code, "message": message},
            "headers": headers or {"Content-Type": ["application/json; charset=utf-8"]},
            "body": {"string": text},
        },
    }


def ok(uri: str, text: str) -> dict[str, Any]:
    return reply(uri, 200, "OK", text)


def fault(uri: str, kind: str, healthy_body: str) -> dict[str, Any]:
    """The answer ``uri`` gives under ``kind``; ``healthy_body`` is what it would have said."""
    json_type = {"Content-Type": ["application/json; charset=utf-8"]}
    if kind == "500":
        return reply(uri, 500, "Internal Server Error", '{"error": "internal"}', json_type)
    if kind == "503":
        return reply(uri, 503, "Service Unavailable", "<html>503 Service Unavailable</html>")
    if kind == "429":
        return reply(
            uri,
            429,
            "Too Many Requests",
            '{"error": {"status": 429, "message": "API rate limit exceeded"}}',
            {**json_type, "Retry-After": [str(RETRY_AFTER_S)]},
        )
    if kind == "timeout":
        return reply(uri, 200, "OK", "", {TIMEOUT_HEADER: ["read-timeout"]})
    if kind == "truncated":
        return ok(uri, healthy_body[: len(healthy_body) // 2])
    raise ValueError(f"unknown fault {kind!r}")


def write_cassette(path: Path, interactions: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        yaml.safe_dump({"interactions": interactions, "version": 1}, allow_unicode=True),
        encoding="utf-8",
    )
    return path


class Injected:
    """How many read timeouts were injected (a test asserts the fault really happened)."""

    def __init__(self) -> None:
        self.timeouts = 0


@contextlib.contextmanager
def faulty_services(
    cassette: Path, recorder: vcr.VCR | None = None, **kwargs: Any
) -> Iterator[tuple[Any, Injected]]:
    """Replay ``cassette`` (no network, repeats allowed for retries), raising read timeouts."""
    injected = Injected()
    real = vcr.stubs.VCRConnection.getresponse

    def getresponse(self: Any, *args: Any, **kw: Any) -> Any:
        response = real(self, *args, **kw)
        if response.getheader(TIMEOUT_HEADER) == "read-timeout":
            injected.timeouts += 1
            raise TimeoutError("timed out")  # socket.timeout, as a blocked read raises
        return response

    options = {
        "record_mode": "none",
        "match_on": ("method", "scheme", "host", "port", "path", "query"),
        "allow_playback_repeats": True,
        **kwargs,
    }
    vcr.stubs.VCRConnection.getresponse = getresponse  # type: ignore[method-assign]
    try:
        with (recorder or vcr.VCR()).use_cassette(str(cassette), **options) as played:
            yield played, injected
    finally:
        vcr.stubs.VCRConnection.getresponse = real  # type: ignore[method-assign]


assert socket.timeout is TimeoutError  # Python >= 3.10: what a socket read raises
