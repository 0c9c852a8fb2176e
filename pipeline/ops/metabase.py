"""Dashboards as code: create or update Metabase from ``metabase.config_dir`` idempotently.

Reads ``dashboards.yaml`` + ``cards/*.sql`` (format: see the README's Metabase part), then:
first-run setup (or login), the DuckDB database (read-only, the reporting file), the collection,
one native-SQL card per entry, and the dashboards with their cards and filters.

Identity: names are not unique in Metabase (nor in our config: "Minutes per month" is on the
Overview and on Podcasts), so every card carries its own stable key, ``<dashboard>/<card>``,
as the last line of its description (``[music-tracker: overview/overview_minutes_per_month]``),
and every dashboard its ``[music-tracker: <dashboard>]``. The collection's item list returns
descriptions, so a rerun finds each object by key, updates it in place and never duplicates.
Cards made by the older name-matching provisioning (no key) are adopted when their name is
unambiguous and archived otherwise; a keyed card whose entry left the config is archived.

Displays and settings are checked against Metabase's visualizations (``DISPLAYS``, the map's
settings) when the config is loaded: Metabase's backend accepts any display string and its UI
silently draws a table for an unknown one, so the check has to be ours.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.settings import MetabaseSettings, YamlFileError, read_yaml

#: Card visualizations Metabase registers (cardDisplayTypes plus treemap), and the Map's aliases.
DISPLAYS = {
    "table",
    "bar",
    "line",
    "pie",
    "scalar",
    "row",
    "area",
    "combo",
    "pivot",
    "smartscalar",
    "gauge",
    "progress",
    "funnel",
    "object",
    "map",
    "scatter",
    "boxplot",
    "waterfall",
    "sankey",
    "list",
    "treemap",
}
DISPLAY_ALIASES = {"state": "map", "country": "map", "pin_map": "map"}
MAP_TYPES = {"region", "pin", "grid", "heat"}
PIN_LIKE = {"pin", "grid", "heat"}
PIN_TYPES = {"tiles", "markers", "grid"}
#: Settings whose value names result columns (checked to appear in the card's SQL).
COLUMN_SETTINGS = (
    "map.latitude_column",
    "map.longitude_column",
    "map.dimension",
    "map.metric",
    "map.metric_column",
    "graph.dimensions",
    "graph.metrics",
)
PARAM_TYPES = {
    "number": ("number/=", "number"),
    "text": ("string/=", "text"),
    "date": ("date/single", "date"),
}
#: A number filter whose default is this word defaults to the latest year with plays.
LATEST_YEAR = "latest"
#: The same, as SQL (what tests and benchmarks run, and what the word means).
LATEST_YEAR_QUERY = "select max(year(local_date)) from fct_plays"
LATEST_YEAR_SQL = f"({LATEST_YEAR_QUERY})"
TEMPLATE_TAG = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
KEY_MARKER = re.compile(r"\[music-tracker: ([A-Za-z0-9_./-]+)\]\s*$")
GRID_COLUMNS = 24


class DashboardConfigError(ValueError):
    """dashboards.yaml or a card file is wrong; the message says where."""


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


def visualization_problems(display: str, settings: dict[str, Any], sql: str) -> list[str]:
    """What Metabase would not draw as meant: an unknown display, incomplete map settings,
    or a setting naming a column the SQL never mentions (the chart would stay empty)."""
    problems = []
    kind = DISPLAY_ALIASES.get(display, display)
    if kind not in DISPLAYS:
        return [f"display {display!r} is not a Metabase visualization (Metabase draws a table)"]
    if kind == "map":
        mtype = settings.get("map.type")
        if mtype not in MAP_TYPES:
            problems.append(f"a map needs map.type region, pin or grid (got {mtype!r})")
        elif mtype in PIN_LIKE:
            for key in ("map.latitude_column", "map.longitude_column"):
                if not settings.get(key):
                    problems.append(f"map.type {mtype} needs {key}")
            if settings.get("map.pin_type", "markers") not in PIN_TYPES:
                problems.append(f"map.pin_type {settings['map.pin_type']!r} is not {PIN_TYPES}")
        else:
            for key in ("map.region", "map.dimension", "map.metric"):
                if not settings.get(key):
                    problems.append(f"map.type region needs {key}")
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql))
    for key, column in setting_columns(settings):
        if column not in words:
            problems.append(f"{key} names column {column!r}, which the SQL never mentions")
    return problems


def setting_columns(settings: dict[str, Any]) -> list[tuple[str, str]]:
    """(setting, column) for every result column the visualization settings name: the card
    must return each, or Metabase draws nothing."""
    named = []
    for key in COLUMN_SETTINGS:
        value = settings.get(key)
        for column in value if isinstance(value, list) else [value] if value else []:
            named.append((key, str(column)))
    return named


def _check_parameter(param: dict[str, Any], where: str) -> None:
    if param.get("type") not in PARAM_TYPES:
        raise DashboardConfigError(f"{where}: type {param.get('type')!r} is not number/text/date")
    default = param.get("default")
    if param["type"] == "number" and default is not None:
        if default != LATEST_YEAR and not isinstance(default, int | float):
            raise DashboardConfigError(
                f"{where}: a number filter's default is a number or {LATEST_YEAR!r}"
            )


#: Keys of dashboards and cards: what the marker in a stored description can be read back as.
KEY = re.compile(r"[A-Za-z0-9_./-]+")
SLUG = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Rows a card may span: Metabase takes any integer of 1 or more; past this it is a typo.
MAX_HEIGHT = 1000


def _read_text(path: Path, where: str) -> str:
    """A config file's text, or a config error naming it (not UTF-8, a folder, unreadable)."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DashboardConfigError(f"{where}: {path} is not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise DashboardConfigError(f"{where}: cannot read {path} ({exc.strerror or exc})") from exc


def _parse_yaml(path: Path) -> dict[str, Any]:
    """dashboards.yaml as a mapping; a YAML or encoding mistake is a config error."""
    try:
        data = read_yaml(path)
    except YamlFileError as exc:
        raise DashboardConfigError(str(exc)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DashboardConfigError(
            f"{path.name}: the top level must be a mapping (collection, database, dashboards)"
        )
    return data


def _name(value: Any, where: str) -> str:
    """A name Metabase stores: non-blank text (it refuses a blank one mid-provisioning)."""
    text = "" if isinstance(value, bool) or not isinstance(value, str | int | float) else value
    if not str(text).strip():
        raise DashboardConfigError(f"{where}: must be non-blank text (got {value!r})")
    return str(value)


def _key(value: Any, where: str) -> str:
    """A dashboard's or card's key: written into its description and read back by the next
    run, so only the characters that marker can hold (else every run would duplicate it)."""
    if not isinstance(value, str) or not KEY.fullmatch(value):
        raise DashboardConfigError(
            f"{where}: key {value!r} may hold only letters, digits and _ . / -"
        )
    return value


def _list(value: Any, where: str) -> list[dict[str, Any]]:
    """A list of mappings (an absent or empty one is an empty list)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise DashboardConfigError(f"{where}: must be a list of mappings")
    return value


def _size(card: dict[str, Any], field_name: str, default: int, most: int, where: str) -> int:
    """A card's width or height in grid cells: an integer from 1 to ``most``."""
    value = card.get(field_name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise DashboardConfigError(
            f"{where}: {field_name} must be a whole number from 1 to {most} (got {value!r})"
        )
    return value


def _card(card: dict[str, Any], config_dir: Path, slugs: set[str], where: str) -> Card:
    """One card entry, its SQL read and its display checked."""
    if not isinstance(card.get("sql"), str) or not card["sql"].strip():
        raise DashboardConfigError(f"{where}: sql must name the card's .sql file")
    sql_path = config_dir / card["sql"]
    if not sql_path.exists():
        raise DashboardConfigError(f"{where}: {sql_path} is missing")
    settings = card.get("visualization_settings") or {}
    if not isinstance(settings, dict):
        raise DashboardConfigError(f"{where}: visualization_settings must be a mapping")
    parsed = Card(
        key=_key(card.get("key"), where),
        name=_name(card.get("name"), f"{where}.name"),
        display=str(card.get("display", "table")),
        sql=_read_text(sql_path, where).strip().rstrip(";").strip(),
        width=_size(card, "width", 12, GRID_COLUMNS, where),
        height=_size(card, "height", 6, MAX_HEIGHT, where),
        visualization_settings=dict(settings),
        description=str(card.get("description", "")),
    )
    if not parsed.sql:
        raise DashboardConfigError(f"{where}: {sql_path} holds no SQL")
    problems = visualization_problems(parsed.display, parsed.visualization_settings, parsed.sql)
    if problems:
        raise DashboardConfigError(f"{where} ({parsed.key}): {'; '.join(problems)}")
    unknown = set(parsed.tags) - slugs
    if unknown:
        raise DashboardConfigError(
            f"{where}: template tags {sorted(unknown)} have no dashboard parameter"
        )
    return parsed


def load_config(config_dir: Path) -> DashboardConfig:
    """Read and validate dashboards.yaml and every card's SQL file.

    Every mistake is a ``DashboardConfigError`` naming its place, raised before any call to
    Metabase: a half-provisioned Metabase (some cards made, then a 400) is what it avoids.
    """
    path = config_dir / "dashboards.yaml"
    if not path.exists():
        raise DashboardConfigError(f"{path} is missing")
    data = _parse_yaml(path)
    try:
        database = data["database"]
        if not isinstance(database, dict):
            raise DashboardConfigError(f"{path.name}: database must be a mapping with a name")
        config = DashboardConfig(
            _name(data["collection"], "collection"), _name(database["name"], "database.name")
        )
        dash_keys: set[str] = set()
        keys: set[str] = set()
        for i, dash in enumerate(_list(data.get("dashboards"), "dashboards")):
            where = f"dashboards[{i}]"
            dash_key = _key(dash.get("key"), where)
            if dash_key in dash_keys:
                raise DashboardConfigError(f"{where}: duplicate dashboard key {dash_key!r}")
            dash_keys.add(dash_key)
            params = _list(dash.get("parameters"), f"{where}.parameters")
            slugs: set[str] = set()
            for k, p in enumerate(params):
                pwhere = f"{where}.parameters[{k}]"
                _check_parameter(p, pwhere)
                slug = p.get("slug")
                if not isinstance(slug, str) or not SLUG.fullmatch(slug) or slug in slugs:
                    raise DashboardConfigError(
                        f"{pwhere}: slug {slug!r} must be a new name of letters, digits and _"
                    )
                slugs.add(slug)
            cards = []
            for j, card in enumerate(_list(dash.get("cards"), f"{where}.cards")):
                cwhere = f"{where}.cards[{j}]"
                parsed = _card(card, config_dir, slugs, cwhere)
                if parsed.key in keys:
                    raise DashboardConfigError(f"{cwhere}: duplicate card key {parsed.key!r}")
                keys.add(parsed.key)
                cards.append(parsed)
            config.dashboards.append(
                Dashboard(
                    dash_key,
                    _name(dash.get("name"), f"{where}.name"),
                    str(dash.get("description", "")),
                    params,
                    cards,
                )
            )
    except (KeyError, TypeError) as exc:
        raise DashboardConfigError(f"{path.name}: missing or malformed field {exc}") from exc
    return config


def resolve_defaults(parameters: list[dict[str, Any]], latest_year: int) -> list[dict[str, Any]]:
    """The parameters with ``default: latest`` replaced by ``latest_year``."""
    return [
        dict(p, default=latest_year) if p.get("default") == LATEST_YEAR else dict(p)
        for p in parameters
    ]


def render_sql(sql: str, parameters: list[dict[str, Any]]) -> str:
    """A card's SQL as Metabase runs it with the filters at their defaults.

    Each ``{{tag}}`` becomes its parameter's ``default`` (quoted for text and date; ``latest``
    becomes the latest year with plays, as SQL) and the optional clauses ``[[ ... ]]`` are
    kept; tests and benchmarks run cards this way.
    """
    defaults = {str(p["slug"]): p for p in parameters}

    def value(match: re.Match[str]) -> str:
        param = defaults[match.group(1)]
        if param.get("default") == LATEST_YEAR:
            return LATEST_YEAR_SQL
        if param.get("type") in ("text", "date"):
            return "'" + str(param["default"]).replace("'", "''") + "'"
        return str(param["default"])

    return TEMPLATE_TAG.sub(value, sql.replace("[[", " ").replace("]]", " "))


def rendered_cards(config_dir: Path, latest_year: int | None = None) -> dict[str, str]:
    """Every card's SQL, rendered with its dashboard's default filters, by card key.

    ``latest_year``: ``default: latest`` becomes that number, as ``provision`` stores it in
    Metabase (by default it stays the subquery ``LATEST_YEAR_SQL``).
    """
    config = load_config(config_dir)
    return {
        card.key: render_sql(
            card.sql,
            dash.parameters
            if latest_year is None
            else resolve_defaults(dash.parameters, latest_year),
        )
        for dash in config.dashboards
        for card in dash.cards
    }


def latest_play_year(database_file: str) -> int | None:
    """The latest year with plays in the reporting database, or None when it has none yet.

    Opened read-only: Metabase may hold the same file open read-only, which DuckDB allows.
    """
    import duckdb

    from pipeline.io.duck import connect

    if not Path(database_file).is_file():
        return None
    try:
        con = connect(database_file, read_only=True)
    except duckdb.Error:
        return None
    try:
        row = con.execute(LATEST_YEAR_QUERY).fetchone()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return int(row[0]) if row and row[0] is not None else None


def connection_details(cfg: MetabaseSettings, database_file: str) -> dict[str, Any]:
    """The DuckDB database's connection details as Metabase stores them.

    read_only: Metabase never takes DuckDB's write lock; memory_limit: DuckDB's native memory
    lives outside the JVM heap, so cap it to keep the container within its limit (the driver
    passes it to DuckDB as the connection property of that name).
    """
    return {
        "database_file": database_file,
        "read_only": True,
        "old_implicit_casting": True,
        "memory_limit": cfg.duckdb_memory_limit,
    }


#: The connection details the driver hands to DuckDB as settings of the same name.
DRIVER_DUCKDB_SETTINGS = ("old_implicit_casting", "memory_limit")


def driver_duckdb_settings(cfg: MetabaseSettings) -> dict[str, Any]:
    """The DuckDB settings Metabase's connection runs with: tests and benchmarks that run the
    cards as Metabase does apply these (``SET``), so a card that only fits without them shows."""
    details = connection_details(cfg, "")
    return {key: details[key] for key in DRIVER_DUCKDB_SETTINGS}


def _stable_id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "music-tracker/" + "/".join(parts)))


def card_identity(dash: Dashboard, card: Card) -> str:
    """A card's own key: its dashboard's key and its entry's key."""
    return f"{dash.key}/{card.key}"


def with_marker(description: str, key: str) -> str:
    """The description Metabase stores: the config's text, then the object's key line."""
    marker = f"[music-tracker: {key}]"
    return f"{description.strip()}\n\n{marker}" if description.strip() else marker


def marker_of(description: str | None) -> str | None:
    """The key recorded in a stored description, if any."""
    match = KEY_MARKER.search(description or "")
    return match.group(1) if match else None


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


def card_body(
    card: Card, dash: Dashboard, db_id: int, collection_id: int, params: list[dict[str, Any]]
) -> dict[str, Any]:
    """The card as ``POST``/``PUT /api/card`` take it (``params``: defaults resolved)."""
    return {
        "name": card.name,
        "description": with_marker(card.description, card_identity(dash, card)),
        "display": card.display,
        "visualization_settings": card.visualization_settings,
        "collection_id": collection_id,
        "dataset_query": {
            "type": "native",
            "database": db_id,
            "native": {"query": card.sql, "template-tags": template_tags(card, params)},
        },
    }


def dashboard_parameters(dash: Dashboard, params: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for p in params:
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


#: Seconds between two asks while ``--wait`` waits for Metabase to start.
WAIT_STEP_S = 5.0


def is_starting(exc: Exception) -> bool:
    """Whether a failed call means Metabase is not up yet: no answer on its port, or a 5xx
    (Metabase answers 503 while it initialises, a reverse proxy 502 before it listens)."""
    from pipeline.clients.http import HttpError, NoAnswer

    status = exc.status if isinstance(exc, HttpError) else None
    return isinstance(exc, NoAnswer) or (status is not None and status >= 500)


def wait_until_up(
    client: Any,
    seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Ask Metabase's public properties until it answers, for up to ``seconds``.

    Metabase takes minutes to start on a NAS (a JVM, then its migrations), and
    ``docker compose up -d`` returns long before: without this, a provisioning run right
    after start-up only says 503. The last failure is raised when the time is up.
    """
    deadline = clock() + seconds
    while True:
        try:
            client.properties()
            return
        except Exception as exc:
            if not is_starting(exc) or clock() >= deadline:
                raise
        sleep(min(WAIT_STEP_S, max(0.0, deadline - clock())))


@dataclass
class ProvisionReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _match_existing(
    items: list[dict[str, Any]], wanted: dict[str, str]
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Existing objects by key, and the leftovers to archive.

    ``wanted`` maps each key to its name. Keyed items match their key (the oldest wins if a key
    repeats). Unkeyed items from name-matching provisioning are adopted when exactly one
    wanted key and exactly one unkeyed item have that name; other unkeyed items with a wanted
    name are leftovers, as are keyed items whose key left the config. Items with a name the
    config never uses are not ours and are left alone.
    """
    by_key: dict[str, int] = {}
    leftovers: list[dict[str, Any]] = []
    unkeyed: dict[str, list[dict[str, Any]]] = {}
    for item in sorted(items, key=lambda i: i["id"]):
        key = marker_of(item.get("description"))
        if key is None:
            unkeyed.setdefault(item.get("name", ""), []).append(item)
        elif key in wanted and key not in by_key:
            by_key[key] = item["id"]
        else:
            leftovers.append(item)
    names: dict[str, list[str]] = {}
    for key, name in wanted.items():
        names.setdefault(name, []).append(key)
    for name, found in unkeyed.items():
        keys = names.get(name, [])
        if len(keys) == 1 and len(found) == 1 and keys[0] not in by_key:
            by_key[keys[0]] = found[0]["id"]
        elif keys:
            leftovers.extend(found)
    return by_key, leftovers


def provision(
    client: Any,
    config: DashboardConfig,
    cfg: MetabaseSettings,
    password: str,
    database_file: str,
    latest_year: int | None = None,
) -> ProvisionReport:
    """Create or update everything in ``config``; safe to run again.

    ``latest_year`` is what ``default: latest`` filters start at; by default it is read from
    ``database_file`` (the current UTC year while that has no plays yet).
    """
    report = ProvisionReport()
    if latest_year is None:
        latest_year = latest_play_year(database_file)
        if latest_year is None:
            latest_year = dt.datetime.now(dt.UTC).year
            report.notes.append(
                f"no plays in {database_file} yet: year filters start at {latest_year}; "
                "provision again after the first import"
            )
        else:
            report.notes.append(f"year filters start at {latest_year}, the latest year with plays")
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

    details = connection_details(cfg, database_file)
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
            # Not the Root collection (id "root", named "Our analytics"): cards cannot name
            # it as their collection_id, so a config naming it gets a collection of its own.
            and isinstance(c.get("id"), int)
            and not isinstance(c.get("id"), bool)
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
    card_ids_by_key, stale_cards = _match_existing(
        [i for i in items if i.get("model") == "card"],
        {card_identity(d, c): c.name for d in config.dashboards for c in d.cards},
    )
    dash_ids_by_key, stale_dashes = _match_existing(
        [i for i in items if i.get("model") == "dashboard"],
        {d.key: d.name for d in config.dashboards},
    )

    for dash in config.dashboards:
        resolved = resolve_defaults(dash.parameters, latest_year)
        card_ids: list[int] = []
        for card in dash.cards:
            key = card_identity(dash, card)
            body = card_body(card, dash, db_id, collection_id, resolved)
            if key in card_ids_by_key:
                card_id = card_ids_by_key[key]
                client.update_card(card_id, body)
                report.updated.append(f"card {key} ({card.name})")
            else:
                card_id = client.create_card(body)["id"]
                card_ids_by_key[key] = card_id
                report.created.append(f"card {key} ({card.name})")
            card_ids.append(card_id)
        params = dashboard_parameters(dash, resolved)
        description = with_marker(dash.description, dash.key)
        if dash.key in dash_ids_by_key:
            dash_id = dash_ids_by_key[dash.key]
            current = client.dashboard(dash_id).get("dashcards") or []
            report.updated.append(f"dashboard {dash.name}")
        else:
            dash_id = client.create_dashboard(
                {
                    "name": dash.name,
                    "description": description,
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
                "description": description,
                "parameters": params,
                "dashcards": dashcards,
            },
        )
    # Last, once no dashboard of ours shows them any more.
    for item in stale_dashes:
        client.update_dashboard(item["id"], {"archived": True})
        report.archived.append(f"dashboard {item['id']} ({item.get('name')})")
    for item in stale_cards:
        client.update_card(item["id"], {"archived": True})
        report.archived.append(f"card {item['id']} ({item.get('name')})")
    return report
