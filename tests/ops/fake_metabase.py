"""An in-memory Metabase REST API on 127.0.0.1 that refuses what real Metabase (or its UI) would.

Only the endpoints provisioning uses, with the shapes of Metabase 0.59's own schemas: session
properties, first-run setup, login, databases, collections (and their items), cards,
dashboards (``PUT`` with the complete ``dashcards`` list). It answers 400 ``{"message",
"errors"}`` for what Metabase's closed request schemas refuse (unknown keys, missing fields, a
blank card description on create, bad dashcards), 401 without a valid ``X-Metabase-Session``,
and it is deliberately stricter than Metabase in two places where Metabase accepts the request
but then draws something else: a ``display`` that is not a registered visualization (Metabase
silently draws a table) and map settings the Map visualization cannot render.

Adding a DuckDB database tests the connection for real, as Metabase does: the file is opened
read-only with the details' ``memory_limit``, and a failure is a 400 that creates nothing.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import duckdb

DISPLAYS = {
    *"table bar line pie scalar row area combo pivot smartscalar gauge progress funnel".split(),
    *"object map scatter boxplot waterfall sankey list treemap".split(),
}
MAP_ALIASES = {"state", "country", "pin_map"}
DASHBOARD_ONLY = {"action", "heading", "link", "placeholder", "text", "iframe"}
CARD_CREATE = {
    "name",
    "type",
    "dataset_query",
    "entity_id",
    "parameters",
    "parameter_mappings",
    "description",
    "display",
    "visualization_settings",
    "collection_id",
    "collection_position",
    "result_metadata",
    "cache_ttl",
    "dashboard_id",
    "dashboard_tab_id",
    "size",
    "source_card_id",
}
CARD_UPDATE = (CARD_CREATE - {"entity_id", "size", "source_card_id"}) | {
    "archived",
    "enable_embedding",
    "embedding_type",
    "embedding_params",
    "collection_preview",
}
DASHBOARD_CREATE = {
    "name",
    "parameters",
    "description",
    "cache_ttl",
    "collection_id",
    "collection_position",
}
DASHBOARD_UPDATE = {
    *"name description parameters dashcards caveats points_of_interest archived".split(),
    *"collection_id collection_position cache_ttl width auto_apply_filters tabs".split(),
    *"enable_embedding embedding_type embedding_params position show_in_getting_started".split(),
}
DASHCARD = {
    *"id size_x size_y row col card_id action_id dashboard_tab_id parameter_mappings".split(),
    *"visualization_settings inline_parameters series".split(),
}
DATABASE_CREATE = {
    *"name engine details is_full_sync is_on_demand schedules auto_run_queries".split(),
    *"cache_ttl connection_source provider_name".split(),
}
DATABASE_UPDATE = {
    *"name engine details write_data_details schedules is_full_sync is_on_demand".split(),
    *"description caveats points_of_interest auto_run_queries cache_ttl provider_name".split(),
    *"settings refingerprint is_stub".split(),
}
#: The DuckDB driver's connection properties (metabase-plugin.yaml and jdbc-spec).
DUCKDB_DETAILS = {
    *"database_file read_only old_implicit_casting memory_limit allow_unsigned_extensions".split(),
    *"motherduck_token init_sql additional-options azure_transport_option_type".split(),
}
TAG = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class Refused(Exception):
    """An answer other than 200, with Metabase's error body."""

    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors or {}


def _nonblank(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _int_at_least(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _closed(body: Any, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Refused(400, f"{where}: the body must be a JSON object")
    extra = sorted(set(body) - allowed)
    if extra:
        raise Refused(400, f"{where}: disallowed keys {extra}", dict.fromkeys(extra, "disallowed"))
    return body


def visualization_refusal(display: str, settings: dict[str, Any]) -> str | None:
    """Why Metabase would not draw this card as meant, or None."""
    if display in DASHBOARD_ONLY:
        return f"display {display!r} is a dashboard-only visualization, not a card's"
    if display not in DISPLAYS and display not in MAP_ALIASES:
        return f"display {display!r} is not a Metabase visualization (it would draw a table)"
    if display == "map" or display in MAP_ALIASES:
        kind = settings.get("map.type")
        if kind not in (None, "region", "pin", "grid", "heat"):
            return f"map.type {kind!r} is not region, pin, grid or heat"
        if kind in ("pin", "grid", "heat"):
            if not (settings.get("map.latitude_column") and settings.get("map.longitude_column")):
                return "a pin map needs map.latitude_column and map.longitude_column"
        if kind == "region" and not settings.get("map.region"):
            return "a region map needs map.region"
    return None


class FakeMetabase:
    """The server and its state; ``url`` is where it listens, ``state`` what it holds."""

    def __init__(self, password_rule: str = r".{8,}") -> None:
        self.lock = threading.Lock()
        self.setup_token: str | None = str(uuid.uuid4())
        self.user: dict[str, Any] | None = None
        self.sessions: set[str] = set()
        self.password_rule = re.compile(password_rule)
        self.databases: dict[int, dict[str, Any]] = {}
        self.collections: dict[int, dict[str, Any]] = {}
        self.cards: dict[int, dict[str, Any]] = {}
        self.dashboards: dict[int, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, int]] = []
        self.refusals: list[str] = []
        self._ids = {"database": 0, "collection": 0, "card": 0, "dashboard": 0, "dashcard": 0}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeMetabase:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def new_id(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    # ---------- what tests ask
    def active_cards(self) -> list[dict[str, Any]]:
        return [c for c in self.cards.values() if not c["archived"]]

    def calls(self, method: str, path_prefix: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and p.startswith(path_prefix))

    # ---------- HTTP
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                url = urlparse(self.path)
                path = url.path.rstrip("/")
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fake.lock:
                    try:
                        try:
                            body = json.loads(raw) if raw.strip() else None
                        except ValueError:
                            raise Refused(400, "the body is not JSON") from None
                        session = self.headers.get("X-Metabase-Session")
                        status, answer = 200, fake.route(self.command, path, query, body, session)
                    except Refused as exc:
                        status = exc.status
                        answer = (
                            "Unauthenticated"
                            if status == 401 and exc.message == "Unauthenticated"
                            else {"message": exc.message, "errors": exc.errors}
                        )
                        fake.refusals.append(f"{self.command} {path}: {exc.message}")
                    fake.requests.append((self.command, path, status))
                data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
                self.send_response(status)
                kind = "text/plain" if isinstance(answer, str) else "application/json"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815

        return Handler

    def route(self, method: str, path: str, query: dict, body: Any, session: str | None) -> Any:
        if (method, path) == ("GET", "/api/session/properties"):
            return {
                "has-user-setup": self.user is not None,
                "setup-token": self.setup_token,
                "version": {"tag": "v0.59.12"},
            }
        if (method, path) == ("POST", "/api/setup"):
            return self.setup(body)
        if (method, path) == ("POST", "/api/session"):
            return self.login(body)
        if session not in self.sessions:
            raise Refused(401, "Unauthenticated")
        parts = path.split("/")[2:]
        kind = parts[0] if parts else ""
        oid = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        if len(parts) > 1 and oid is None:
            raise Refused(404, f"{path} not found")
        handler = getattr(self, f"api_{kind}", None)
        if handler is None:
            raise Refused(404, f"{path} not found")
        return handler(method, oid, parts[2:], query, body)

    def _session(self) -> dict[str, str]:
        sid = str(uuid.uuid4())
        self.sessions.add(sid)
        return {"id": sid}

    def setup(self, body: Any) -> dict[str, str]:
        if self.user is not None:
            raise Refused(403, "The /api/setup route can only be used to create the first user")
        body = body or {}
        user, prefs = body.get("user") or {}, body.get("prefs") or {}
        if body.get("token") != self.setup_token:
            raise Refused(400, "Token does not match the setup token.", {"token": "setup token"})
        if not (_nonblank(user.get("email")) and "@" in user["email"]):
            raise Refused(400, "user.email is required", {"email": "valid email"})
        if not (_nonblank(user.get("password")) and self.password_rule.fullmatch(user["password"])):
            raise Refused(400, "Insufficient password strength", {"password": "complexity"})
        if not _nonblank(prefs.get("site_name")):
            raise Refused(400, "prefs.site_name is required", {"site_name": "non-blank"})
        self.user, self.setup_token = dict(user), None
        return self._session()

    def login(self, body: Any) -> dict[str, str]:
        body = body or {}
        if not (_nonblank(body.get("username")) and _nonblank(body.get("password"))):
            raise Refused(400, "username and password are required")
        user = self.user
        if (
            user is None
            or body["username"].lower() != user["email"].lower()
            or body["password"] != user["password"]
        ):
            raise Refused(401, "Password did not match stored password.", {"password": "no"})
        return self._session()

    # ---------- databases
    def _test_connection(self, engine: str, details: dict[str, Any]) -> None:
        if engine != "duckdb":
            raise Refused(400, f"no driver for engine {engine!r} in this Metabase")
        extra = sorted(set(details) - DUCKDB_DETAILS)
        if extra:
            raise Refused(400, f"details: the DuckDB driver has no properties {extra}")
        config = {"memory_limit": str(details["memory_limit"])} if "memory_limit" in details else {}
        try:
            duckdb.connect(
                str(details.get("database_file") or ""),
                read_only=bool(details.get("read_only")),
                config=config,
            ).close()
        except duckdb.Error as exc:
            raise Refused(400, str(exc).splitlines()[0], {"database_file": "connection"}) from exc

    def api_database(self, method: str, oid: int | None, rest: list, query: dict, body: Any) -> Any:
        if oid is None and method == "GET":
            return {"data": list(self.databases.values()), "total": len(self.databases)}
        if oid is None and method == "POST":
            body = _closed(body, DATABASE_CREATE, "POST /api/database")
            if not (_nonblank(body.get("name")) and _nonblank(body.get("engine"))):
                raise Refused(400, "name and engine are required")
            if not isinstance(body.get("details"), dict):
                raise Refused(400, "details must be a map", {"details": "map"})
            self._test_connection(body["engine"], body["details"])
            db = dict(body, id=self.new_id("database"))
            self.databases[db["id"]] = db
            return db
        if oid not in self.databases:
            raise Refused(404, "Not found.")
        if method == "PUT":
            body = _closed(body, DATABASE_UPDATE, f"PUT /api/database/{oid}")
            db = self.databases[oid]
            if "details" in body or "engine" in body:
                self._test_connection(body.get("engine", db["engine"]), body.get("details", {}))
            db.update(body)
        return self.databases[oid]

    # ---------- collections
    def api_collection(
        self, method: str, oid: int | None, rest: list, query: dict, body: Any
    ) -> Any:
        if oid is None and method == "GET":
            root = {"id": "root", "name": "Our analytics", "personal_owner_id": None}
            return [root, *(c for c in self.collections.values() if not c["archived"])]
        if oid is None and method == "POST":
            body = body or {}
            if not _nonblank(body.get("name")):
                raise Refused(400, "name is required", {"name": "non-blank"})
            if body.get("description") is not None and not _nonblank(body["description"]):
                raise Refused(400, "description must be null or non-blank")
            c = {
                "id": self.new_id("collection"),
                "name": body["name"],
                "description": body.get("description"),
                "archived": False,
                "personal_owner_id": None,
            }
            self.collections[c["id"]] = c
            return c
        if oid not in self.collections:
            raise Refused(404, "Not found.")
        if rest == ["items"] and method == "GET":
            items = [
                {k: c.get(k) for k in ("id", "name", "description", "display", "collection_id")}
                | {"model": "card", "archived": False}
                for c in self.cards.values()
                if c["collection_id"] == oid and not c["archived"]
            ] + [
                {"id": d["id"], "name": d["name"], "description": d.get("description")}
                | {"model": "dashboard", "collection_id": oid, "archived": False}
                for d in self.dashboards.values()
                if d.get("collection_id") == oid and not d.get("archived")
            ]
            return {"total": len(items), "data": items, "models": ["card", "dashboard"]}
        return self.collections[oid]

    # ---------- cards
    def _check_card(self, body: Any, stored: dict | None, where: str) -> dict[str, Any]:
        creating = stored is None
        body = _closed(body, CARD_CREATE if creating else CARD_UPDATE, where)
        if creating:
            missing = [
                k
                for k in ("name", "dataset_query", "display", "visualization_settings")
                if body.get(k) is None
            ]
            if missing:
                raise Refused(
                    400, f"{where}: missing {missing}", dict.fromkeys(missing, "required")
                )
            if body.get("description") is not None and not _nonblank(body["description"]):
                raise Refused(400, f"{where}: description must be null or non-blank")
        for key in ("name", "display"):
            if key in body and not _nonblank(body[key]):
                raise Refused(400, f"{where}: {key} must be a non-blank string")
        if "visualization_settings" in body and not isinstance(
            body["visualization_settings"], dict
        ):
            raise Refused(400, f"{where}: visualization_settings must be a map")
        if body.get("collection_id") is not None and body["collection_id"] not in self.collections:
            raise Refused(400, f"{where}: collection {body['collection_id']} does not exist")
        query = body.get("dataset_query")
        if query is not None:
            if not isinstance(query, dict) or query.get("database") not in self.databases:
                raise Refused(400, f"{where}: dataset_query needs an existing database")
            native = query.get("native") or {}
            if query.get("type") != "native" or not _nonblank(native.get("query")):
                raise Refused(400, f"{where}: a native query needs non-blank native.query")
            tags = native.get("template-tags") or {}
            for name in set(TAG.findall(native["query"])) - set(tags):
                raise Refused(400, f"{where}: {{{{{name}}}}} has no template tag")
            for name, tag in tags.items():
                if not (isinstance(tag, dict) and tag.get("name") == name and tag.get("type")):
                    raise Refused(400, f"{where}: template tag {name!r} needs name and type")
        if "display" in body:
            settings = body.get(
                "visualization_settings", (stored or {}).get("visualization_settings")
            )
            problem = visualization_refusal(body["display"], settings or {})
            if problem:
                raise Refused(400, f"{where}: {problem}", {"display": problem})
        return body

    def _card_answer(self, card: dict[str, Any], legacy: bool) -> dict[str, Any]:
        """GET answers MBQL 5 since v57, unless ``legacy-mbql=true``."""
        if legacy:
            return card
        query = card["dataset_query"]
        stage = {"lib/type": "mbql.stage/native", "native": query["native"]["query"]}
        stage["template-tags"] = query["native"].get("template-tags", {})
        return dict(
            card,
            dataset_query={
                "lib/type": "mbql/query",
                "database": query["database"],
                "stages": [stage],
            },
        )

    def api_card(self, method: str, oid: int | None, rest: list, query: dict, body: Any) -> Any:
        if oid is None and method == "POST":
            body = self._check_card(body, None, "POST /api/card")
            card = {"type": "question", "archived": False, "collection_id": None, **body}
            card["id"] = self.new_id("card")
            self.cards[card["id"]] = card
            return card
        if oid not in self.cards:
            raise Refused(404, "Not found.")
        if method == "PUT":
            body = self._check_card(body, self.cards[oid], f"PUT /api/card/{oid}")
            self.cards[oid].update(body)
        return self._card_answer(self.cards[oid], query.get("legacy-mbql") == "true")

    # ---------- dashboards
    def _dashcards(self, dash: dict[str, Any], dashcards: Any, params: list) -> list[dict]:
        if not isinstance(dashcards, list):
            raise Refused(400, "dashcards must be a list")
        ids = [dc.get("id") if isinstance(dc, dict) else None for dc in dashcards]
        if len(set(map(str, ids))) != len(ids):
            raise Refused(400, "dashcards: ids must be unique")
        own = {dc["id"] for dc in dash["dashcards"]}
        param_ids = {p.get("id") for p in params}
        out = []
        for n, dc in enumerate(dashcards):
            where = f"dashcards[{n}]"
            _closed(dc, DASHCARD, where)
            if not _int_at_least(dc.get("id"), -(2**63)):
                raise Refused(400, f"{where}: id must be an integer (negative = new)")
            for key, least in (("size_x", 1), ("size_y", 1), ("row", 0), ("col", 0)):
                if not _int_at_least(dc.get(key), least):
                    raise Refused(400, f"{where}: {key} must be an integer >= {least}")
            if dc["col"] + dc["size_x"] > 24:
                raise Refused(400, f"{where}: wider than the 24-column grid")
            card = self.cards.get(dc.get("card_id"))
            if dc.get("card_id") is not None and card is None:
                raise Refused(400, f"{where}: card {dc['card_id']} does not exist")
            if dc["id"] > 0 and dc["id"] not in own:
                raise Refused(400, f"{where}: dashcard {dc['id']} is not on this dashboard")
            for m in dc.get("parameter_mappings") or []:
                if m.get("parameter_id") not in param_ids:
                    raise Refused(400, f"{where}: {m.get('parameter_id')!r} is not a parameter")
                if m.get("card_id") != dc.get("card_id"):
                    raise Refused(400, f"{where}: a mapping's card_id is not the dashcard's card")
                target = m.get("target")
                tags = ((card or {}).get("dataset_query") or {}).get("native", {})
                tags = tags.get("template-tags", {})
                if not (
                    isinstance(target, list)
                    and target[:1] == ["variable"]
                    and target[1][:1] == ["template-tag"]
                    and target[1][1] in tags
                ):
                    raise Refused(400, f"{where}: mapping target {target!r} is not a tag")
            new = dict(dc, dashboard_id=dash["id"])
            if new["id"] < 0:
                new["id"] = self.new_id("dashcard")
            out.append(new)
        return out

    def api_dashboard(
        self, method: str, oid: int | None, rest: list, query: dict, body: Any
    ) -> Any:
        if oid is None and method == "POST":
            body = _closed(body, DASHBOARD_CREATE, "POST /api/dashboard")
            if not _nonblank(body.get("name")):
                raise Refused(400, "name is required", {"name": "non-blank"})
            if body.get("collection_id") is not None and body["collection_id"] not in (
                self.collections
            ):
                raise Refused(400, f"collection {body['collection_id']} does not exist")
            dash = {"parameters": [], **body, "dashcards": [], "tabs": [], "archived": False}
            dash["id"] = self.new_id("dashboard")
            self.dashboards[dash["id"]] = dash
            return dash
        if oid not in self.dashboards:
            raise Refused(404, "Not found.")
        dash = self.dashboards[oid]
        if method == "PUT":
            body = _closed(body, DASHBOARD_UPDATE, f"PUT /api/dashboard/{oid}")
            if "name" in body and not _nonblank(body["name"]):
                raise Refused(400, "name must be non-blank")
            params = body.get("parameters", dash["parameters"])
            dashcards = (
                self._dashcards(dash, body["dashcards"], params)
                if "dashcards" in body
                else dash["dashcards"]
            )
            dash.update({k: v for k, v in body.items() if k != "dashcards"})
            dash["dashcards"] = dashcards
        return dict(
            dash,
            dashcards=[
                dict(dc, card=self.cards.get(dc.get("card_id"))) for dc in dash["dashcards"]
            ],
        )
