"""Dashboards as code: create or update Metabase from ``config/metabase/`` idempotently.

Reads ``dashboards.yaml`` + ``cards/*.sql`` (format: see the README's Metabase part), then:
first-run setup (or login), the DuckDB database (read-only, the reporting file), the collection,
one native-SQL card per entry, and the dashboards with their cards and filters. Objects are
matched by name (database) or by name inside the collection (cards, dashboards), so a second
run updates in place and never duplicates.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline import settings as settings_mod

DISPLAYS = {"table", "line", "bar", "row", "pie", "scalar", "area", "map", "pin", "combo"}
PARAM_TYPES = {
    "number": ("number/=", "number"),
    "text": ("string/=", "text"),
    "date": ("date/single", "date"),
}
TEMPLATE_TAG = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
GRID_COLUMNS = 24


class DashboardConfigError(ValueError):
    """dashboards.yaml or a card file is wrong; the message says where."""


@dataclass(frozen=True)
class MetabaseSettings:
    """``metabase`` section."""

    url: str = "http://localhost:3000"
    config_dir: Path = Path("config/metabase")
    admin_email: str = "admin@music-tracker.local"
    admin_first_name: str = "Music"
    admin_last_name: str = "Tracker"
    password_env: str = "MUSIC_TRACKER_METABASE_PASSWORD"
    site_name: str = "Music Tracker"
    database_file: str = ""
    duckdb_memory_limit: str = "256MB"
    timeout_seconds: float = 30.0


def metabase_settings() -> MetabaseSettings:
    return settings_mod.section("metabase", MetabaseSettings)


@dataclass
class Card:
    key: str
    name: str
    display: str
    sql: str
    width: int
    height: int
    visualization_settings: dict[str, Any]
    description: str = ""

    @property
    def tags(self) -> list[str]:
        return sorted(set(TEMPLATE_TAG.findall(self.sql)))


@dataclass
class Dashboard:
    key: str
    name: str
    description: str
    parameters: list[dict[str, Any]]
    cards: list[Card]


@dataclass
class DashboardConfig:
    collection: str
    database_name: str
    dashboards: list[Dashboard] = field(default_factory=list)


def render_sql(sql: str, parameters: list[dict[str, Any]]) -> str:
    """A card's SQL as Metabase runs it with the filters at their defaults.

    Each ``{{tag}}`` becomes its parameter's ``default`` (quoted for text and date) and the
    optional clauses ``[[ ... ]]`` are kept; tests and benchmarks run cards this way.
    """
    defaults = {str(p["slug"]): p for p in parameters}

    def value(match: re.Match[str]) -> str:
        param = defaults[match.group(1)]
        if param.get("type") in ("text", "date"):
            return "'" + str(param["default"]).replace("'", "''") + "'"
        return str(param["default"])

    return TEMPLATE_TAG.sub(value, sql.replace("[[", " ").replace("]]", " "))


def rendered_cards(config_dir: Path) -> dict[str, str]:
    """Every card's SQL, rendered with its dashboard's default filters, by card key."""
    config = load_config(config_dir)
    return {
        card.key: render_sql(card.sql, dash.parameters)
        for dash in config.dashboards
        for card in dash.cards
    }


def load_config(config_dir: Path) -> DashboardConfig:
    """Read and validate dashboards.yaml and every card's SQL file."""
    path = config_dir / "dashboards.yaml"
    if not path.exists():
        raise DashboardConfigError(f"{path} is missing")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        config = DashboardConfig(str(data["collection"]), str(data["database"]["name"]))
        keys: set[str] = set()
        for i, dash in enumerate(data.get("dashboards") or []):
            where = f"dashboards[{i}]"
            params = list(dash.get("parameters") or [])
            slugs = set()
            for p in params:
                if p.get("type") not in PARAM_TYPES:
                    raise DashboardConfigError(
                        f"{where}.parameters: type {p.get('type')!r} is not number/text/date"
                    )
                slugs.add(p["slug"])
            cards = []
            for j, card in enumerate(dash.get("cards") or []):
                cwhere = f"{where}.cards[{j}]"
                if card["key"] in keys:
                    raise DashboardConfigError(f"{cwhere}: duplicate card key {card['key']!r}")
                keys.add(card["key"])
                if card.get("display", "table") not in DISPLAYS:
                    raise DashboardConfigError(f"{cwhere}: unknown display {card['display']!r}")
                sql_path = config_dir / card["sql"]
                if not sql_path.exists():
                    raise DashboardConfigError(f"{cwhere}: {sql_path} is missing")
                parsed = Card(
                    key=card["key"],
                    name=card["name"],
                    display=card.get("display", "table"),
                    sql=sql_path.read_text(encoding="utf-8").strip().rstrip(";"),
                    width=int(card.get("width", 12)),
                    height=int(card.get("height", 6)),
                    visualization_settings=dict(card.get("visualization_settings") or {}),
                    description=str(card.get("description", "")),
                )
                unknown = set(parsed.tags) - slugs
                if unknown:
                    raise DashboardConfigError(
                        f"{cwhere}: template tags {sorted(unknown)} have no dashboard parameter"
                    )
                cards.append(parsed)
            config.dashboards.append(
                Dashboard(
                    dash["key"], dash["name"], str(dash.get("description", "")), params, cards
                )
            )
    except (KeyError, TypeError) as exc:
        raise DashboardConfigError(f"{path.name}: missing or malformed field {exc}") from exc
    return config


def _stable_id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "music-tracker/" + "/".join(parts)))


def template_tags(card: Card, params: list[dict[str, Any]]) -> dict[str, Any]:
    by_slug = {p["slug"]: p for p in params}
    tags = {}
    for tag in card.tags:
        p = by_slug[tag]
        tags[tag] = {
            "id": _stable_id(card.key, tag),
            "name": tag,
            "display-name": p.get("name", tag),
            "type": PARAM_TYPES[p["type"]][1],
            **({"default": p["default"]} if p.get("default") is not None else {}),
        }
    return tags


def card_body(card: Card, dash: Dashboard, db_id: int, collection_id: int) -> dict[str, Any]:
    return {
        "name": card.name,
        "description": card.description or None,
        "display": card.display,
        "visualization_settings": card.visualization_settings,
        "collection_id": collection_id,
        "dataset_query": {
            "type": "native",
            "database": db_id,
            "native": {"query": card.sql, "template-tags": template_tags(card, dash.parameters)},
        },
    }


def dashboard_parameters(dash: Dashboard) -> list[dict[str, Any]]:
    out = []
    for p in dash.parameters:
        param = {
            "id": _stable_id(dash.key, p["slug"]),
            "name": p.get("name", p["slug"]),
            "slug": p["slug"],
            "type": PARAM_TYPES[p["type"]][0],
        }
        if p.get("default") is not None:
            param["default"] = p["default"]
        out.append(param)
    return out


def layout(cards: list[Card]) -> list[tuple[int, int]]:
    """(row, col) of each card, filling rows of the 24-column grid left to right."""
    positions, row, col, row_height = [], 0, 0, 0
    for card in cards:
        width = min(card.width, GRID_COLUMNS)
        if col + width > GRID_COLUMNS:
            row, col, row_height = row + row_height, 0, 0
        positions.append((row, col))
        col += width
        row_height = max(row_height, card.height)
    return positions


@dataclass
class ProvisionReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def provision(
    client: Any,
    config: DashboardConfig,
    cfg: MetabaseSettings,
    password: str,
    database_file: str,
) -> ProvisionReport:
    """Create or update everything in ``config``; safe to run again."""
    report = ProvisionReport()
    props = client.properties()
    user = {
        "email": cfg.admin_email,
        "first_name": cfg.admin_first_name,
        "last_name": cfg.admin_last_name,
        "password": password,
    }
    if not props.get("has-user-setup"):
        client.setup(props["setup-token"], user, cfg.site_name)
        report.created.append(f"admin {cfg.admin_email}")
    else:
        client.login(cfg.admin_email, password)

    # read_only: Metabase never takes DuckDB's write lock; memory_limit: DuckDB's native memory
    # lives outside the JVM heap, so cap it to keep the container within its limit.
    details = {
        "database_file": database_file,
        "read_only": True,
        "old_implicit_casting": True,
        "memory_limit": cfg.duckdb_memory_limit,
    }
    db_body = {
        "engine": "duckdb",
        "name": config.database_name,
        "details": details,
        "is_full_sync": True,
    }
    existing_db = next(
        (
            d
            for d in client.databases()
            if d.get("name") == config.database_name and d.get("engine") == "duckdb"
        ),
        None,
    )
    if existing_db is None:
        db_id = client.create_database(db_body)["id"]
        report.created.append(f"database {config.database_name}")
    else:
        db_id = existing_db["id"]
        current = existing_db.get("details") or {}
        if any(current.get(k) != v for k, v in details.items()):
            client.update_database(db_id, db_body)
            report.updated.append(f"database {config.database_name}")

    collection = next(
        (
            c
            for c in client.collections()
            if c.get("name") == config.collection
            and not c.get("archived")
            and c.get("personal_owner_id") is None
        ),
        None,
    )
    if collection is None:
        collection = client.create_collection(
            config.collection, "Music Tracker dashboards (managed by `music-tracker metabase`)"
        )
        report.created.append(f"collection {config.collection}")
    collection_id = collection["id"]
    items = client.collection_items(collection_id)
    cards_by_name = {i["name"]: i["id"] for i in items if i.get("model") == "card"}
    dashes_by_name = {i["name"]: i["id"] for i in items if i.get("model") == "dashboard"}

    for dash in config.dashboards:
        card_ids: list[int] = []
        for card in dash.cards:
            body = card_body(card, dash, db_id, collection_id)
            if card.name in cards_by_name:
                card_id = cards_by_name[card.name]
                client.update_card(card_id, body)
                report.updated.append(f"card {card.name}")
            else:
                card_id = client.create_card(body)["id"]
                cards_by_name[card.name] = card_id
                report.created.append(f"card {card.name}")
            card_ids.append(card_id)
        params = dashboard_parameters(dash)
        if dash.name in dashes_by_name:
            dash_id = dashes_by_name[dash.name]
            current = client.dashboard(dash_id).get("dashcards") or []
            report.updated.append(f"dashboard {dash.name}")
        else:
            dash_id = client.create_dashboard(
                {
                    "name": dash.name,
                    "description": dash.description or None,
                    "collection_id": collection_id,
                    "parameters": params,
                }
            )["id"]
            current = []
            report.created.append(f"dashboard {dash.name}")
        existing_dashcards = {d.get("card_id"): d.get("id") for d in current}
        dashcards = []
        for n, (card, card_id, (row, col)) in enumerate(
            zip(dash.cards, card_ids, layout(dash.cards), strict=True)
        ):
            mappings = [
                {
                    "parameter_id": _stable_id(dash.key, tag),
                    "card_id": card_id,
                    "target": ["variable", ["template-tag", tag]],
                }
                for tag in card.tags
            ]
            dashcards.append(
                {
                    "id": existing_dashcards.get(card_id, -(n + 1)),
                    "card_id": card_id,
                    "row": row,
                    "col": col,
                    "size_x": min(card.width, GRID_COLUMNS),
                    "size_y": card.height,
                    "parameter_mappings": mappings,
                    "visualization_settings": {},
                }
            )
        client.update_dashboard(
            dash_id,
            {
                "name": dash.name,
                "description": dash.description or None,
                "parameters": params,
                "dashcards": dashcards,
            },
        )
    return report
