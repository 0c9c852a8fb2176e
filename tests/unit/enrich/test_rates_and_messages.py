"""Every enrichment client's limiter, Retry-After handling and failure messages, measured on a
fake clock with a recorded log of when each request reached the service.

The fake transport models what the real runs measured: a request reaches the service a few
tens of milliseconds after the client sends it, by a varying amount (a new connection costs a
handshake, a reused one does not), so spacing sends by exactly 1.0 s let two requests arrive
0.970 s apart.
"""

from __future__ import annotations

import datetime as dt
import logging
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import musicbrainzngs
import pytest
from geopy.exc import GeocoderRateLimited
from geopy.location import Location

from pipeline.clients.http import RateLimited
from pipeline.settings import MusicBrainzSettings, NominatimSettings, SpotifyCatalogueSettings
from tests.fake_time import FakeTime

START = dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC)
FIXTURES = Path(__file__).parent.parent.parent / "fixtures"
#: Connection set-up before a request arrives, alternating: new connection, reused one.
JITTER = (0.03, 0.0)
RESPONSE_S = 0.05


@dataclass
class Transport:
    """A fake service: answers from a script, and logs when each request arrived."""

    time: FakeTime
    script: list[Any] = field(default_factory=list)  # "ok" or ("429"|"503", retry_after)
    arrivals: list[float] = field(default_factory=list)

    def arrive(self) -> Any:
        self.time.t += JITTER[len(self.arrivals) % 2]
        self.arrivals.append(self.time.t)
        self.time.t += RESPONSE_S
        return self.script.pop(0) if self.script else "ok"

    def gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.arrivals, self.arrivals[1:], strict=False)]


def musicbrainz(transport: Transport) -> tuple[Callable[[], Any], float]:
    """One MusicBrainz request through the real client (its ``_call``: limiter and retries)."""
    from pipeline.clients.musicbrainz import MusicBrainzClient

    settings = MusicBrainzSettings(contact="test@example.org")
    t = transport.time
    client = MusicBrainzClient(settings, clock=t.clock, sleep=t.sleep, now=t.now)

    def fetch() -> dict[str, Any]:
        answer = transport.arrive()
        if answer != "ok":
            code, wait = answer
            headers = {"Retry-After": str(wait)} if wait is not None else {}
            cause = urllib.error.HTTPError("https://musicbrainz.org", int(code), "", headers, None)  # type: ignore[arg-type]
            raise musicbrainzngs.NetworkError(cause=cause)
        return {"artists": []}

    return (lambda: client._call("artist?query=Burzum", fetch)), settings.min_interval_seconds


def nominatim(transport: Transport) -> tuple[Callable[[], Any], float]:
    """One geocoding through the real Geocoder (geopy's Nominatim replaced by the transport)."""
    from pipeline.clients.geocoder import Geocoder

    settings = NominatimSettings(user_agent="music-tracker-test")
    t = transport.time
    geocoder = Geocoder(settings, clock=t.clock, sleep=t.sleep, now=t.now)

    def geocode(query: Any, **_: Any) -> Location:
        answer = transport.arrive()
        if answer != "ok":
            raise GeocoderRateLimited("Too Many Requests", retry_after=answer[1])
        return Location("Hisarya", (42.5, 24.7), {"lat": "42.5", "lon": "24.7"})

    geocoder.geolocator.geocode = geocode  # type: ignore[method-assign]
    return (lambda: geocoder.geocode("Hisarya", "BG")), settings.min_delay_seconds


@dataclass
class _Raw:
    status_code: int
    content: bytes
    headers: dict[str, str]

    def iter_content(self, size: int) -> list[bytes]:
        """As requests streams a body (``HttpClient`` reads every answer so)."""
        return [self.content[i : i + size] for i in range(0, len(self.content), size)]

    def close(self) -> None:
        pass


def spotify(transport: Transport) -> tuple[Callable[[], Any], float]:
    """One catalogue lookup through the real SpotifyCatalogue (requests replaced)."""
    from pipeline.clients.spotify_catalogue import SpotifyCatalogue

    settings = SpotifyCatalogueSettings()
    t = transport.time

    class Session:
        def request(self, method: str, url: str, **_: Any) -> _Raw:
            answer = transport.arrive()
            if answer != "ok":
                headers = {"Retry-After": str(answer[1])} if answer[1] is not None else {}
                return _Raw(int(answer[0]), b'{"error": {"status": 429}}', headers)
            return _Raw(200, b'{"id": "0eGsygTp906u18L0Oimnem"}', {})

    client = SpotifyCatalogue(
        settings, lambda: "token", session=Session(), clock=t.clock, sleep=t.sleep, now=t.now
    )  # type: ignore[arg-type]
    return (lambda: client.track("0eGsygTp906u18L0Oimnem")), settings.min_interval_seconds


SERVICES = {"musicbrainz": musicbrainz, "nominatim": nominatim, "spotify": spotify}


@pytest.mark.parametrize("service", SERVICES)
def test_requests_arrive_at_least_the_documented_interval_apart(service: str) -> None:
    """40 requests in a row: no two arrive closer than the service's interval (1 s for
    MusicBrainz and Nominatim), although connection set-up varies by 30 ms."""
    transport = Transport(FakeTime(START))
    call, interval = SERVICES[service](transport)
    for _ in range(40):
        call()
    gaps = transport.gaps()
    assert len(gaps) == 39
    assert min(gaps) >= interval, f"{service}: smallest gap {min(gaps):.3f} s"
    assert sum(gaps) / len(gaps) < interval + 0.11  # the margin costs little


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("retry_after", [1, 5, 20, 60])
def test_retry_after_up_to_the_maximum_is_sat_out(service: str, retry_after: int) -> None:
    """A 429 asking for up to the configured maximum (60 s) is retried only after that wait."""
    transport = Transport(FakeTime(START), script=[("429", retry_after)])
    call, _ = SERVICES[service](transport)
    call()
    assert len(transport.arrivals) == 2
    assert transport.gaps()[0] >= retry_after


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("retry_after", [61, 46_800])
def test_retry_after_beyond_the_maximum_pauses_at_once(service: str, retry_after: int) -> None:
    """A longer Retry-After is never sat out: the call ends with when to resume."""
    time = FakeTime(START)
    transport = Transport(time, script=[("429", retry_after)])
    call, _ = SERVICES[service](transport)
    with pytest.raises(RateLimited) as raised:
        call()
    assert len(transport.arrivals) == 1 and time.sleeps == []
    assert raised.value.resume_at >= START + dt.timedelta(seconds=retry_after)


def test_a_503_is_reported_as_a_503() -> None:
    """A MusicBrainz 503 with a long Retry-After pauses the run and says 503, not "429: 503"."""
    transport = Transport(FakeTime(START), script=[("503", 3600)])
    call, _ = musicbrainz(transport)
    with pytest.raises(RateLimited) as raised:
        call()
    message = str(raised.value)
    assert "(503 on artist?query=Burzum)" in message and "429" not in message


@pytest.mark.parametrize("service", SERVICES)
def test_a_retried_429_is_one_log_line(service: str, caplog: pytest.LogCaptureFixture) -> None:
    """A 429 that is retried logs one line, without a traceback."""
    transport = Transport(FakeTime(START), script=[("429", 2)])
    call, _ = SERVICES[service](transport)
    with caplog.at_level(logging.DEBUG):
        call()
    retries = [r for r in caplog.records if "429" in r.getMessage()]
    assert len(retries) == 1, [r.getMessage() for r in caplog.records]
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in caplog.records)


def test_xml_mode_does_not_log_parser_chatter(caplog: pytest.LogCaptureFixture) -> None:
    """musicbrainzngs' "uncaught attribute type-id" lines (several per answer) are not logged."""
    from musicbrainzngs import musicbrainz as _mb

    from pipeline.clients.musicbrainz import MusicBrainzClient

    MusicBrainzClient(MusicBrainzSettings(contact="test@example.org", format="xml"))
    body = (
        FIXTURES / "musicbrainz" / "mbdocs_xml_artist_lookup_rick_astley_inc_aliases_genres_tags"
        "_ratings.xml"
    ).read_bytes()
    with caplog.at_level(logging.DEBUG):
        parsed = _mb.parser_fun(body)
    assert parsed["artist"]["name"] == "Rick Astley"
    assert [r.getMessage() for r in caplog.records if r.name.startswith("musicbrainzngs")] == []
