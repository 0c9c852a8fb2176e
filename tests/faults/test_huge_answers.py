"""An answer too big to be real is refused after 16 MB, not held whole in the container.

A broken proxy or mirror may stream a body without end (or declare one of gigabytes). The
pipeline runs in 400 MB; ``requests`` would hold all of it, and its timeout is per read, so a
steady endless body never times out. A real local server (127.0.0.1) sends the bodies.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from pipeline.clients.http import MAX_BODY_BYTES, BadResponse, HttpClient


class _Endless(http.server.BaseHTTPRequestHandler):
    """``/endless``: chunked zeros until the client hangs up; ``/declared``: claims 10 GB."""

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if self.path == "/declared":
            self.send_header("Content-Length", str(10 * 1024**3))
            self.end_headers()
            self.wfile.write(b"[" * 1024)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"0" * 65536
        try:
            while True:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("path", ["/endless", "/declared"])
def test_an_endless_or_huge_answer_is_a_bad_response(server: str, path: str) -> None:
    """Refused as the service's bad response (recorded, not retried), within seconds."""
    client = HttpClient("spotify", server, "music-tracker-test", max_retries=0, timeout_s=5)
    started = time.monotonic()
    with pytest.raises(BadResponse, match=r"is over 16 MB; not read"):
        client.get(path)
    assert time.monotonic() - started < 20
    assert MAX_BODY_BYTES == 16 * 1024 * 1024


def test_musicbrainz_and_nominatim_answers_are_capped_too(server: str) -> None:
    """musicbrainzngs and geopy read with urllib: the same 16 MB limit holds for them."""
    from pipeline.clients.geocoder import Geocoder
    from pipeline.clients.musicbrainz import MusicBrainzClient
    from pipeline.settings import MusicBrainzSettings, NominatimSettings

    musicbrainz = MusicBrainzClient(
        MusicBrainzSettings(base_url=server, contact="test@example.org", max_retries=0)
    )
    with pytest.raises(BadResponse, match=r"is over 16 MB; not read"):
        musicbrainz.search_artists("Burzum")
    host = server.removeprefix("http://")
    nominatim = Geocoder(
        NominatimSettings(
            user_agent="music-tracker-test", domain=host, scheme="http", max_retries=0
        )
    )
    with pytest.raises(BadResponse, match=r"is over 16 MB; not read"):
        nominatim.geocode("Bergen", "NO")
