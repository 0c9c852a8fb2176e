"""Metabase REST API: the few endpoints provisioning needs, with the documented shapes.

Session: ``GET /api/session/properties`` (``has-user-setup``, ``setup-token``), first-run
``POST /api/setup``, then ``POST /api/session`` -> ``{"id": <session>}`` sent back as the
``X-Metabase-Session`` header. Objects: ``/api/database``, ``/api/collection``,
``/api/collection/:id/items``, ``/api/card``, ``/api/dashboard`` (``PUT`` with ``dashcards``).
"""

from __future__ import annotations

from typing import Any

from pipeline.clients.http import HttpClient


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

    # ---------- session
    def properties(self) -> dict[str, Any]:
        return self._call("GET", "/api/session/properties")

    def setup(self, token: str, user: dict[str, str], site_name: str) -> None:
        """First run: create the admin; Metabase answers with a session id."""
        body = {
            "token": token,
            "user": {**user, "site_name": site_name},
            "prefs": {"site_name": site_name, "site_locale": "en", "allow_tracking": False},
        }
        self.session_id = self._call("POST", "/api/setup", body)["id"]

    def login(self, email: str, password: str) -> None:
        data = self._call("POST", "/api/session", {"username": email, "password": password})
        self.session_id = data["id"]

    # ---------- objects
    def databases(self) -> list[dict[str, Any]]:
        data = self._call("GET", "/api/database")
        return data["data"] if isinstance(data, dict) else data

    def create_database(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/api/database", body)

    def update_database(self, db_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", f"/api/database/{db_id}", body)

    def collections(self) -> list[dict[str, Any]]:
        return self._call("GET", "/api/collection")

    def create_collection(self, name: str, description: str) -> dict[str, Any]:
        return self._call("POST", "/api/collection", {"name": name, "description": description})

    def collection_items(self, collection_id: int) -> list[dict[str, Any]]:
        data = self._call("GET", f"/api/collection/{collection_id}/items")
        return data["data"] if isinstance(data, dict) else data

    def create_card(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/api/card", body)

    def update_card(self, card_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", f"/api/card/{card_id}", body)

    def create_dashboard(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/api/dashboard", body)

    def dashboard(self, dashboard_id: int) -> dict[str, Any]:
        return self._call("GET", f"/api/dashboard/{dashboard_id}")

    def update_dashboard(self, dashboard_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", f"/api/dashboard/{dashboard_id}", body)
