"""Helpers for the Spotify tests: fake app credentials, token caches, and the cassette player."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import vcr

CASSETTES = Path(__file__).parent / "cassettes"
CLIENT_ID = "test-client-id-0000"
CLIENT_SECRET = "test-client-secret-do-not-log-1234"


def access_token(account: str) -> str:
    return f"test-access-token-{account}-9f8e7d"


def refresh_token(account: str) -> str:
    return f"test-refresh-token-{account}-5a4b3c"


def _label(key: str, value: str, request: Any) -> str:
    """Replace a bearer token by the account it belongs to (a label, never the token)."""
    if value.startswith("<redacted"):
        return value  # vcr filters recorded and already-filtered requests too
    for account in ("me", "partner"):
        if access_token(account) in value:
            return f"<redacted:{account}>"
    return "<redacted>"


def _scrub_body(request: Any) -> Any:
    if request.body:
        request.body = b"<scrubbed>"
    return request


def _authorization_matcher(r1: Any, r2: Any) -> None:
    left = r1.headers.get("Authorization")
    right = r2.headers.get("Authorization")
    assert left == right, f"{left} != {right}"


def player(module: str, match_account: bool = False) -> vcr.VCR:
    """Replay-only cassettes under tests/cassettes/<module>/; Authorization never stored."""
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES / module),
        record_mode="none",
        filter_headers=[("authorization", _label)],
        before_record_request=_scrub_body,
        decode_compressed_response=True,
    )
    recorder.register_matcher("authorization", _authorization_matcher)
    base = ["method", "scheme", "host", "port", "path", "query"]
    recorder.match_on = tuple(base + (["authorization"] if match_account else []))
    return recorder


def write_token(
    account: str,
    *,
    expired: bool = False,
    authorised_days_ago: int = 10,
    now: dt.datetime | None = None,
) -> Path:
    """A token cache as `music-tracker auth` leaves it (valid, or with an expired access token)."""
    from pipeline.clients.spotify import save_token

    now = now or dt.datetime.now(dt.UTC)
    expires_at = now - dt.timedelta(minutes=5) if expired else now + dt.timedelta(hours=1)
    return save_token(
        account,
        {
            "account": account,
            "access_token": access_token(account),
            "refresh_token": refresh_token(account),
            "token_type": "Bearer",
            "scope": "user-read-recently-played",
            "expires_at": int(expires_at.timestamp()),
            "first_authorised_at": (now - dt.timedelta(days=authorised_days_ago)).isoformat(),
            "last_refreshed_at": now.isoformat(),
        },
    )
