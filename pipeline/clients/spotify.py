"""Per-account access to the Spotify Web API: headless authorisation, token cache, typed errors.

Why our own token handling rather than spotipy's: spotipy's retry sleeps through ``Retry-After``
inside urllib3 (hours when the daily quota is spent) and its debug log prints request headers,
which hold the client secret. Every call here goes through ``pipeline.clients.http.HttpClient``
(a long 429 ends the call at once with ``RateLimited(resume_at)``), and nothing secret is logged.

Authorisation is headless, for a NAS without a browser: ``authorize_url()`` gives the address to
open on any device; after "Agree", Spotify sends the browser to the redirect URI (a loopback IP
literal by default, ``http://127.0.0.1:8888/callback``; nothing has to listen there) and the user
pastes that address back; ``complete_authorisation()`` exchanges the code for tokens.

The token cache, ``state/tokens/<account>.json`` (or ``spotify.token_dir``), is written
atomically with mode 0600 and holds: ``access_token``, ``refresh_token``, ``expires_at`` (Unix
seconds), ``scope``, ``token_type``, ``first_authorised_at`` and ``last_refreshed_at`` (ISO UTC).
Spotify's refresh tokens now expire six months after the user authorised and refreshing does
not extend them, so ``first_authorised_at`` is kept through refreshes; running ``auth`` again
starts a new six months and resets it.

Other modules use ``SpotifyClient(account)``: ``get_json(path, params)`` returns
``(payload, raw_bytes)``; ``token()`` and ``http`` let a helper that takes an ``HttpClient`` and
a ``token: Callable[[], str]`` (the catalogue enrichment) share the same token and rate limit::

    client = SpotifyClient("me")
    catalogue = SpotifyCatalogue(client.http, client.token)
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import math
import secrets
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import settings as settings_mod
from pipeline.clients.http import (
    AuthError,
    BadResponse,
    Forbidden,
    HttpClient,
    HttpError,
    RateLimited,
    Response,
    header_safe,
    utcnow,
)
from pipeline.io.atomic import write_json_atomic
from pipeline.paths import lake
from pipeline.settings import SpotifySettings, spotify_settings

logger = logging.getLogger(__name__)

SERVICE = "spotify"
TOKEN_MODE = 0o600
#: Renew the access token this long before it expires, so a call never races the expiry.
EXPIRY_MARGIN_S = 60


# ---------------------------------------------------------------------------------------------
# Errors: each says what the user should do.
# ---------------------------------------------------------------------------------------------


class SpotifyConfigError(HttpError):
    """The app credentials are missing or refused (SPOTIFY_CLIENT_ID / SPOTIFY_CLIENT_SECRET)."""


class NotAuthorised(AuthError):
    """The account has no token cache yet."""

    def __init__(self, account: str):
        super().__init__(
            SERVICE, f"account {account!r} is not authorised; run `music-tracker auth {account}`"
        )
        self.account = account


class TokenCacheUnreadable(NotAuthorised):
    """The token cache exists but cannot be used (truncated, not JSON, wrong shape, unreadable)."""

    def __init__(self, account: str, path: Path, why: str):
        AuthError.__init__(
            self,
            SERVICE,
            f"the token cache of account {account!r} ({path}) is unusable ({why}); "
            f"run `music-tracker auth {account}` to authorise again",
        )
        self.account = account


class ReauthRequired(AuthError):
    """The refresh token was refused (``invalid_grant``: expired after six months, or revoked)."""

    def __init__(self, account: str, detail: str = ""):
        why = f" ({detail})" if detail else ""
        super().__init__(
            SERVICE,
            f"the authorisation of account {account!r} expired or was revoked{why}; "
            f"run `music-tracker auth {account}` again",
            400,
        )
        self.account = account


class MissingScope(Forbidden):
    """The token lacks a permission the call needs."""


class AccessDenied(Forbidden):
    """403 for other reasons: user not on the development-mode app's list, or Premium needed."""


def explain_forbidden(account: str, exc: HttpError) -> Forbidden:
    """Turn a 403 into the typed error whose message says what to do."""
    body = exc.body.decode("utf-8", "replace") if exc.body else ""
    low = body.lower()
    if "scope" in low:
        return MissingScope(
            SERVICE,
            f"account {account!r}: the token lacks a required permission ({_short(body)}); "
            f"run `music-tracker auth {account}` again to grant the scopes in spotify.scopes",
            403,
            exc.body,
        )
    if "premium" in low:
        hint = "this call needs a Spotify Premium account"
    else:
        hint = (
            "in development mode only users added under 'User Management' in the Spotify "
            "developer dashboard may use the app (at most 5); add this listener there"
        )
    return AccessDenied(
        SERVICE, f"account {account!r}: 403 forbidden ({_short(body)}); {hint}", 403, exc.body
    )


def _short(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body[:120]
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        return str(err.get("message") or err.get("reason") or err)[:120]
    if isinstance(data, dict) and err:
        return str(data.get("error_description") or err)[:120]
    return body[:120]


# ---------------------------------------------------------------------------------------------
# Token cache
# ---------------------------------------------------------------------------------------------


def token_path(account: str) -> Path:
    """Where the account's token cache lives."""
    return lake().spotify_token(account, spotify_settings().token_dir)


def read_token(account: str) -> dict[str, Any] | None:
    """The account's token cache; None when never authorised; ``TokenCacheUnreadable`` when the
    file is there but unusable (the poll then says to run ``music-tracker auth`` again)."""
    path = token_path(account)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TokenCacheUnreadable(
            account, path, f"cannot read it: {exc.strerror or exc}"
        ) from None
    except ValueError:  # includes UnicodeDecodeError
        raise TokenCacheUnreadable(
            account, path, "not valid JSON: truncated or overwritten"
        ) from None
    problem = _token_problem(data)
    if problem:
        raise TokenCacheUnreadable(account, path, problem)
    return dict(data)


def _token_problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "not a JSON object"
    if not isinstance(data.get("refresh_token"), str) or not data["refresh_token"]:
        return "no refresh_token"
    try:
        int(data.get("expires_at") or 0)
    except (TypeError, ValueError):
        return "expires_at is not a number"
    first = data.get("first_authorised_at")
    if first:
        try:
            dt.datetime.fromisoformat(str(first))
        except ValueError:
            return "first_authorised_at is not a date"
    return None


def load_token(account: str) -> dict[str, Any] | None:
    """The account's token cache, or None when it was never authorised or is unusable."""
    try:
        return read_token(account)
    except TokenCacheUnreadable:
        return None


def save_token(account: str, token: Mapping[str, Any]) -> Path:
    """Write the token cache atomically with mode 0600 (never world- or group-readable)."""
    path = token_path(account)
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)  # the folder is private too
    write_json_atomic(path, dict(token), mode=TOKEN_MODE)
    return path


def refresh_expires_at(token: Mapping[str, Any]) -> dt.datetime | None:
    """When the refresh token stops working: first authorisation + the six-month lifetime."""
    first = token.get("first_authorised_at")
    if not first:
        return None
    start = dt.datetime.fromisoformat(str(first))
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.UTC)
    return start + dt.timedelta(days=spotify_settings().refresh_token_lifetime_days)


def refresh_warning(account: str, token: Mapping[str, Any] | None, now: dt.datetime) -> str | None:
    """A warning when the refresh token expires within ``refresh_warning_days``."""
    if not token:
        return None
    expires = refresh_expires_at(token)
    if expires is None:
        return None
    left = expires - now
    if left > dt.timedelta(days=spotify_settings().refresh_warning_days):
        return None
    when = expires.strftime("%Y-%m-%d")
    days_left = math.ceil(left.total_seconds() / 86400)
    if left.total_seconds() <= 0:
        return (
            f"account {account!r}: authorisation expired on {when}; "
            f"run `music-tracker auth {account}`"
        )
    return (
        f"account {account!r}: authorisation expires on {when} ({days_left} days left); "
        f"run `music-tracker auth {account}` before then"
    )


# ---------------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------------


def _credentials() -> tuple[str, str]:
    client_id = settings_mod.secret("SPOTIFY_CLIENT_ID")
    client_secret = settings_mod.secret("SPOTIFY_CLIENT_SECRET")
    if not client_id or not client_secret:
        raise SpotifyConfigError(
            SERVICE,
            "SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET must be set in the environment "
            "(from your app at developer.spotify.com/dashboard)",
        )
    return client_id, client_secret


def _http(base_url: str, cfg: SpotifySettings) -> HttpClient:
    return HttpClient(
        SERVICE,
        base_url,
        cfg.user_agent,
        max_retries=cfg.max_retries,
        backoff_s=cfg.backoff_s,
        timeout_s=cfg.timeout_s,
        max_wait_s=cfg.max_wait_s,
    )


def api_http() -> HttpClient:
    """An HttpClient for the Web API (``spotify.api_base_url``)."""
    cfg = spotify_settings()
    return _http(cfg.api_base_url, cfg)


def accounts_http() -> HttpClient:
    """An HttpClient for the accounts service (``spotify.accounts_base_url``)."""
    cfg = spotify_settings()
    return _http(cfg.accounts_base_url, cfg)


def _token_request(
    http: HttpClient, account: str, form: Mapping[str, str]
) -> tuple[dict[str, Any], dt.datetime]:
    """POST /api/token with the app's Basic credentials; map refusals to typed errors."""
    client_id, client_secret = _credentials()
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    try:
        response = http.request(
            "POST", "api/token", data=dict(form), headers={"Authorization": f"Basic {basic}"}
        )
    except HttpError as exc:
        if isinstance(exc, RateLimited):
            raise
        error, detail = _oauth_error(exc.body)
        if error == "invalid_grant":
            raise ReauthRequired(account, detail) from None
        if error in ("invalid_client", "unauthorized_client"):
            raise SpotifyConfigError(
                SERVICE,
                f"Spotify refused the app credentials ({error}); check SPOTIFY_CLIENT_ID and "
                "SPOTIFY_CLIENT_SECRET",
                exc.status,
            ) from None
        raise
    data = response.json(SERVICE)
    problem = _token_answer_problem(data)
    if problem:
        raise BadResponse(SERVICE, f"token response {problem}", response.status)
    return data, utcnow()


#: The longest an access token may be trusted for; Spotify's last an hour (``expires_in`` 3600).
MAX_EXPIRES_IN_S = 86_400


def _token_answer_problem(data: Any) -> str | None:
    """What makes a token answer unusable, or None (checked before anything is stored).

    A token goes into an ``Authorization`` header: one holding a line break or a non-ASCII
    character made the HTTP library raise mid-poll, and an ``expires_in`` that is not a number
    of seconds crashed the poll, instead of the account recording a ``bad_response``.
    """
    if not isinstance(data, dict):
        return "is not a JSON object"
    if not header_safe(data.get("access_token")):
        return "without a usable access_token"
    if "refresh_token" in data and data["refresh_token"] is not None:
        if not header_safe(data["refresh_token"]):
            return "with an unusable refresh_token"
    expires = data.get("expires_in", 3600)
    if isinstance(expires, bool) or not isinstance(expires, int):
        return f"with expires_in {str(expires)[:20]!r}, not a number of seconds"
    if not 0 < expires <= MAX_EXPIRES_IN_S:
        return f"with expires_in {expires} s, outside 1 s to a day"
    return None


def _oauth_error(body: bytes) -> tuple[str, str]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "", ""
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return data["error"], str(data.get("error_description") or "")
    return "", ""


def _stamp(data: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
    return {
        "access_token": data["access_token"],
        "token_type": data.get("token_type", "Bearer"),
        "scope": data["scope"] if isinstance(data.get("scope"), str) else "",
        "expires_at": int(now.timestamp()) + int(data.get("expires_in", 3600)),
        "last_refreshed_at": now.isoformat(),
    }


@dataclass
class PendingAuthorisation:
    """An authorisation started by ``authorize_url``: the URL to open and the state to check."""

    account: str
    url: str
    state: str
    redirect_uri: str


def authorize_url(account: str) -> PendingAuthorisation:
    """The address to open on any device to let Music Tracker read this account's listening."""
    cfg = spotify_settings()
    client_id, _ = _credentials()
    state = secrets.token_urlsafe(16)
    query = urllib.parse.urlencode(
        {
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": cfg.redirect_uri,
            "scope": " ".join(cfg.scopes),
            "state": state,
            "show_dialog": "true",
        }
    )
    url = f"{cfg.accounts_base_url.rstrip('/')}/authorize?{query}"
    return PendingAuthorisation(account, url, state, cfg.redirect_uri)


class AuthorisationError(ValueError):
    """The pasted address is not a successful redirect from this authorisation."""


def code_from_redirect(pending: PendingAuthorisation, pasted: str) -> str:
    """The authorisation code from the address the browser was sent to (checks ``state``).

    Quotes or angle brackets around the address (a terminal or a mail client copying it so)
    are not part of it: left on, the last one read as part of ``state``, and the address was
    called "another authorisation".
    """
    pasted = pasted.strip().strip("\"'<>").strip()
    parsed = urllib.parse.urlparse(pasted)
    query = urllib.parse.parse_qs(parsed.query)
    if "error" in query:
        raise AuthorisationError(f"Spotify refused the authorisation: {query['error'][0]}")
    if "code" not in query:
        if pasted and not parsed.scheme and "=" not in pasted:
            return pasted  # the bare code
        raise AuthorisationError(
            "that address has no ?code=...; paste the whole address from the browser's bar"
        )
    if query.get("state", [pending.state])[0] != pending.state:
        raise AuthorisationError("the address belongs to another authorisation (state differs)")
    return query["code"][0]


def complete_authorisation(
    pending: PendingAuthorisation, pasted: str, http: HttpClient | None = None
) -> Path:
    """Exchange the pasted redirect's code for tokens; write the 0600 cache; return its path."""
    code = code_from_redirect(pending, pasted)
    data, now = _token_request(
        http or accounts_http(),
        pending.account,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pending.redirect_uri,
        },
    )
    if not data.get("refresh_token"):
        raise BadResponse(SERVICE, "token response without a refresh_token")
    token = _stamp(data, now)
    token.update(
        refresh_token=data["refresh_token"],
        first_authorised_at=now.isoformat(),
        account=pending.account,
    )
    path = save_token(pending.account, token)
    logger.info("account %s authorised; token cache written (mode 0600)", pending.account)
    return path


class SpotifyClient:
    """One account's authorised access to the Web API.

    ``http`` is the shared ``HttpClient`` (rate limit, retries, prompt 429s) and ``token()`` a
    valid access token, refreshed when needed: hand both to helpers that build their own calls.
    """

    def __init__(
        self,
        account: str,
        *,
        http: HttpClient | None = None,
        auth_http: HttpClient | None = None,
        now: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.account = account
        self.http = http or api_http()
        self.auth_http = auth_http or accounts_http()
        self._now = now
        self._token: dict[str, Any] | None = None

    # ---------- tokens
    def cached_token(self) -> dict[str, Any]:
        """The token cache (loaded once); NotAuthorised when the account never authorised."""
        if self._token is None:
            self._token = read_token(self.account)
            if self._token is None:
                raise NotAuthorised(self.account)
        return self._token

    def token(self) -> str:
        """A valid access token, refreshed with the refresh token when it (nearly) expired."""
        token = self.cached_token()
        expires_at = int(token.get("expires_at") or 0)
        if not token.get("access_token") or expires_at - EXPIRY_MARGIN_S <= self._now().timestamp():
            token = self.refresh()
        return str(token["access_token"])

    def refresh(self) -> dict[str, Any]:
        """Trade the refresh token for a new access token; ReauthRequired on invalid_grant."""
        token = self.cached_token()
        data, now = _token_request(
            self.auth_http,
            self.account,
            {"grant_type": "refresh_token", "refresh_token": str(token["refresh_token"])},
        )
        updated = dict(token)
        updated.update(_stamp(data, now))
        if data.get("refresh_token"):
            updated["refresh_token"] = data["refresh_token"]
        save_token(self.account, updated)
        self._token = updated
        logger.debug("account %s: access token refreshed", self.account)
        return updated

    def refresh_warning(self) -> str | None:
        """Warning text when this account's six-month authorisation ends within 14 days."""
        return refresh_warning(self.account, load_token(self.account), self._now())

    def granted_scopes(self) -> set[str]:
        return set(str(self.cached_token().get("scope", "")).split())

    # ---------- calls
    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Response:
        """GET with the account's token; one retry with a fresh token after a 401.

        Returns the raw ``Response`` (status, bytes) so callers can keep the body untouched
        before parsing it. Raises the typed errors of ``pipeline.clients.http`` and this module.
        """
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.token()}"}
            try:
                return self.http.get(path, params=params, headers=headers)
            except AuthError:
                if attempt == 2:
                    raise AuthError(
                        SERVICE,
                        f"account {self.account!r}: Spotify refused a fresh access token (401); "
                        f"run `music-tracker auth {self.account}` again",
                        401,
                    ) from None
                self.refresh()
            except Forbidden as exc:
                raise explain_forbidden(self.account, exc) from None
        raise AssertionError("unreachable")

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> tuple[Any, bytes]:
        """GET and parse: ``(payload, raw_bytes)``; BadResponse (with the bytes) if unreadable."""
        response = self.get(path, params)
        return response.json(SERVICE), response.body
