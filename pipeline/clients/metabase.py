"""Metabase REST API: the few endpoints provisioning needs, with the documented shapes.

Session: ``GET /api/session/properties`` (``has-user-setup``, ``setup-token``), first-run
``POST /api/setup``, then ``POST /api/session`` -> ``{"id": <session>}`` sent back as the
``X-Metabase-Session`` header. Objects: ``/api/database``, ``/api/collection``,
``/api/collection/:id/items``, ``/api/card``, ``/api/dashboard`` (``PUT`` with ``dashcards``).
"""

from __future__ import annotations

from typing import Any

from pipeline.clients.http import BadResponse, HttpClient, header_safe


def _unexpected(method: str, path: str, what: str) -> BadResponse:
    """A 2xx answer of a shape Metabase never gives (a proxy's page, another service on the
    port, a Metabase version that changed the endpoint): one line, not a traceback."""
    return BadResponse("metabase", f"unexpected answer to {method} {path}: {what}")


class MetabaseClient:
    """A logged-in (or not yet set up) Metabase."""

    def __init__(self, base_url: str, timeout_s: float = 30.0) -> None:
        self.http = HttpClient("metabase", base_url, "music-tracker", timeout_s=timeout_s)
        self.session_id: str | None = None

    def _headers(self) -> dict[str, str]:
        return {"X-Metabase-Session": self.session_id} if self.session_id else {}

    def _call(self, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        response = self.http.request(
            method, path, json_body=body, params=params, headers=self._headers()
        )
        return response.json("metabase") if response.body.strip() else None

    def _object(self, method: str, path: str, body: Any = None, need: str = "") -> dict[str, Any]:
        """A call whose answer is a JSON object (with the field ``need``, when named)."""
        data = self._call(method, path, body)
        if not isinstance(data, dict):
            raise _unexpected(method, path, f"{type(data).__name__} instead of an object")
        if need and (not isinstance(data.get(need), int | str) or isinstance(data[need], bool)):
            raise _unexpected(method, path, f"no {need!r} in the answer")
        return data

    def _items(self, method: str, path: str) -> list[dict[str, Any]]:
        """A call whose answer lists objects with ids, bare or as ``{"data": [...]}`` (both
        exist)."""
        data = self._call(method, path)
        items = data.get("data") if isinstance(data, dict) else data
        if not isinstance(items, list) or not all(isinstance(i, dict) and "id" in i for i in items):
            raise _unexpected(method, path, "not a list of objects with ids")
        return items

    # ---------- session
    def properties(self) -> dict[str, Any]:
        """The public settings; before the first admin exists they hold the setup token."""
        path = "/api/session/properties"
        props = self._object("GET", path)
        token = props.get("setup-token")
        if not props.get("has-user-setup") and not (isinstance(token, str) and token):
            raise _unexpected("GET", path, "no admin yet and no setup-token")
        return props

    def setup(self, token: str, user: dict[str, str], site_name: str) -> None:
        """First run: create the admin; Metabase answers with a session id."""
        body = {
            "token": token,
            "user": {**user, "site_name": site_name},
            "prefs": {"site_name": site_name, "site_locale": "en", "allow_tracking": False},
        }
        self._session(self._object("POST", "/api/setup", body, need="id"), "/api/setup")

    def login(self, email: str, password: str) -> None:
        body = {"username": email, "password": password}
        self._session(self._object("POST", "/api/session", body, need="id"), "/api/session")

    def _session(self, answer: dict[str, Any], path: str) -> None:
        """Keep the session id Metabase gave, if it can travel in the session header."""
        if not header_safe(answer["id"]):
            raise _unexpected("POST", path, "a session id that cannot be sent back")
        self.session_id = answer["id"]

    # ---------- objects
    def databases(self) -> list[dict[str, Any]]:
        return self._items("GET", "/api/database")

    def create_database(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._object("POST", "/api/database", body, need="id")

    def update_database(self, db_id: int, body: dict[str, Any]) -> Any:
        return self._call("PUT", f"/api/database/{db_id}", body)

    def collections(self) -> list[dict[str, Any]]:
        return self._items("GET", "/api/collection")

    def create_collection(self, name: str, description: str) -> dict[str, Any]:
        return self._object(
            "POST", "/api/collection", {"name": name, "description": description}, need="id"
        )

    def collection_items(self, collection_id: int) -> list[dict[str, Any]]:
        return self._items("GET", f"/api/collection/{collection_id}/items")

    def create_card(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._object("POST", "/api/card", body, need="id")

    def update_card(self, card_id: int, body: dict[str, Any]) -> Any:
        return self._call("PUT", f"/api/card/{card_id}", body)

    def create_dashboard(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._object("POST", "/api/dashboard", body, need="id")

    def dashboard(self, dashboard_id: int) -> dict[str, Any]:
        return self._object("GET", f"/api/dashboard/{dashboard_id}")

    def update_dashboard(self, dashboard_id: int, body: dict[str, Any]) -> Any:
        return self._call("PUT", f"/api/dashboard/{dashboard_id}", body)
