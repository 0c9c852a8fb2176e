"""`metabase provision` against a fake Metabase that refuses what Metabase (or its UI) would.

The fake (tests/ops/fake_metabase.py) holds Metabase 0.59's request schemas, checks displays
and map settings, and tests the DuckDB connection for real, so these tests provision the
shipped ``config/metabase/`` (42 cards on 8 dashboards) end to end through the CLI.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipeline.cli import main
from pipeline.clients.metabase import MetabaseClient
from pipeline.ops.metabase import (
    DISPLAYS,
    DashboardConfigError,
    card_identity,
    layout,
    load_config,
    marker_of,
    render_sql,
)
from pipeline.settings import memory_bytes
from tests.conftest import REPO
from tests.ops.fake_metabase import FakeMetabase

FIXTURE = Path(__file__).parents[1] / "fixtures" / "metabase"
CONFIG = REPO / "config" / "metabase"
PASSWORD = "test-password-123"


@pytest.fixture
def fake() -> Iterator[FakeMetabase]:
    """A fresh Metabase (no admin yet) on a free port of 127.0.0.1."""
    server = FakeMetabase().start()
    yield server
    server.stop()


def _reporting_db(path: Path, years: list[int]) -> Path:
    """A reporting file with plays in ``years`` (the one table the year default reads)."""
    con = duckdb.connect(str(path))
    con.execute("create table fct_plays (local_date date, ms_played bigint)")
    for year in years:
        con.execute("insert into fct_plays values (?, 60000)", [dt.date(year, 6, 1)])
    con.close()
    return path


@pytest.fixture
def reporting(tmp_path: Path) -> Path:
    return _reporting_db(tmp_path / "reporting.duckdb", [2023, 2024])


@pytest.fixture
def metabase_env(data_dir: Path, reporting: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSIC_TRACKER_METABASE_PASSWORD", PASSWORD)
    monkeypatch.setenv("MUSIC_TRACKER__METABASE__DATABASE_FILE", str(reporting))


def _provision(fake: FakeMetabase, capsys: pytest.CaptureFixture, config: Path = CONFIG):
    code = main(["metabase", "provision", "--config-dir", str(config), "--url", fake.url])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _by_key(fake: FakeMetabase) -> dict[str, dict]:
    cards = {}
    for card in fake.active_cards():
        key = marker_of(card["description"])
        assert key and key not in cards, f"card {card['id']} has no key or a repeated one"
        cards[key] = card
    return cards


def test_provisioning_twice_gives_exactly_one_card_per_entry(metabase_env, fake, capsys) -> None:
    """Two runs: 42 entries give 42 cards, each keyed; the second run creates nothing."""
    config = load_config(CONFIG)
    entries = {card_identity(d, c): c for d in config.dashboards for c in d.cards}
    assert len(entries) == 42

    code, out = _provision(fake, capsys)
    assert code == 0, out
    assert set(_by_key(fake)) == set(entries)
    assert "created admin admin@music-tracker.local" in out
    ids = {key: card["id"] for key, card in _by_key(fake).items()}

    code, out = _provision(fake, capsys)
    assert code == 0, out
    assert "created" not in out.replace("(0 created", ""), out
    assert {key: card["id"] for key, card in _by_key(fake).items()} == ids
    assert len(fake.cards) == 42 and len(fake.dashboards) == len(config.dashboards) == 8
    assert fake.calls("POST", "/api/card") == 42
    assert not fake.refusals, fake.refusals


def test_each_dashboard_shows_its_own_cards_sql(metabase_env, fake, capsys) -> None:
    """Same-named cards stay apart: the Overview's "Minutes per month" is its own SQL, not
    the podcasts', and every dashcard shows the SQL of its own entry."""
    assert _provision(fake, capsys)[0] == 0
    assert _provision(fake, capsys)[0] == 0
    config = load_config(CONFIG)
    names = [c.name for d in config.dashboards for c in d.cards]
    assert {"Minutes per month", "Minutes listened"} <= {n for n in names if names.count(n) > 1}
    for dash in config.dashboards:
        stored = next(
            d for d in fake.dashboards.values() if marker_of(d["description"]) == dash.key
        )
        shown = [fake.cards[dc["card_id"]] for dc in stored["dashcards"]]
        assert [c["dataset_query"]["native"]["query"] for c in shown] == [c.sql for c in dash.cards]
        assert [c["name"] for c in shown] == [c.name for c in dash.cards]
    overview = _by_key(fake)["overview/overview_minutes_per_month"]
    assert "agg_daily_listening" in overview["dataset_query"]["native"]["query"]
    podcasts = _by_key(fake)["podcasts/podcasts_minutes_per_month"]
    assert "agg_spoken_word" in podcasts["dataset_query"]["native"]["query"]


def test_places_card_is_a_pin_map(metabase_env, fake, capsys) -> None:
    """The places card is Metabase's map with pin settings; the countries card a region map."""
    assert _provision(fake, capsys)[0] == 0
    cards = _by_key(fake)
    places = cards["origins/origins_places"]
    assert places["display"] == "map"
    assert places["visualization_settings"] == {
        "map.type": "pin",
        "map.latitude_column": "latitude",
        "map.longitude_column": "longitude",
    }
    countries = cards["origins/origins_country_map"]["visualization_settings"]
    assert countries["map.type"] == "region" and countries["map.region"] == "world_countries"
    assert all(card["display"] in DISPLAYS for card in cards.values())


def test_year_filters_start_at_the_latest_year_with_plays(
    metabase_env, fake, capsys, reporting: Path
) -> None:
    """Every year filter and its cards' tags default to 2024 when that is the last year played,
    and move on to 2026 once plays of 2026 are published and provisioning runs again."""
    code, out = _provision(fake, capsys)
    assert code == 0 and "year filters start at 2024" in out

    def defaults() -> set:
        found = set()
        for dash in fake.dashboards.values():
            found |= {p.get("default") for p in dash["parameters"] if p["slug"] == "year"}
        for card in fake.active_cards():
            tags = card["dataset_query"]["native"]["template-tags"]
            found |= {t.get("default") for t in tags.values() if t["name"] == "year"}
        return found

    assert defaults() == {2024}
    con = duckdb.connect(str(reporting))
    con.execute("insert into fct_plays values ('2026-01-02', 1000)")
    con.close()
    assert _provision(fake, capsys)[0] == 0
    assert defaults() == {2026}


def test_year_default_without_plays_is_this_year_and_said(
    data_dir: Path, fake, capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the first import the filters start at the current year, and the run says so."""
    empty = _reporting_db(tmp_path / "empty.duckdb", [])
    monkeypatch.setenv("MUSIC_TRACKER_METABASE_PASSWORD", PASSWORD)
    monkeypatch.setenv("MUSIC_TRACKER__METABASE__DATABASE_FILE", str(empty))
    code, out = _provision(fake, capsys)
    assert code == 0
    this_year = dt.datetime.now(dt.UTC).year
    assert f"no plays in {empty} yet: year filters start at {this_year}" in out


def test_database_is_read_only_with_duckdb_memory_limit(metabase_env, fake, capsys) -> None:
    """The DuckDB database is added read-only with the configured memory_limit in its
    connection details (the fake opens it with them, as Metabase's connection test does)."""
    assert _provision(fake, capsys)[0] == 0
    (db,) = fake.databases.values()
    assert db["engine"] == "duckdb"
    assert db["details"]["read_only"] is True
    assert memory_bytes(db["details"]["memory_limit"]) == 192 * 2**20


def test_a_missing_reporting_file_is_refused_and_reported(
    data_dir: Path, fake, capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Metabase tests the connection first: a missing file is a clear error, exit 1."""
    monkeypatch.setenv("MUSIC_TRACKER_METABASE_PASSWORD", PASSWORD)
    monkeypatch.setenv("MUSIC_TRACKER__METABASE__DATABASE_FILE", str(tmp_path / "nope.duckdb"))
    code, out = _provision(fake, capsys)
    assert code == 1 and "Metabase refused" in out
    assert not fake.databases and not fake.cards


def test_cards_from_name_matching_provisioning_are_adopted_or_archived(
    metabase_env, fake, capsys, reporting: Path
) -> None:
    """Upgrading an instance provisioned by name: an unambiguous card keeps its id, the one
    "Minutes per month" both dashboards shared is archived and replaced by one per entry."""
    client = MetabaseClient(fake.url)
    client.setup(
        fake.setup_token, {"email": "admin@music-tracker.local", "password": PASSWORD}, "M"
    )
    db = client.create_database(
        {"engine": "duckdb", "name": "Music Tracker", "details": {"database_file": str(reporting)}}
    )
    coll = client.create_collection("Music Tracker", "Music Tracker dashboards")

    def legacy(name: str, sql: str) -> int:
        body = {
            "name": name,
            "display": "table",
            "visualization_settings": {},
            "collection_id": coll["id"],
            "dataset_query": {"type": "native", "database": db["id"], "native": {"query": sql}},
        }
        return client.create_card(body)["id"]

    top_tracks = legacy("Top tracks", "select 1")
    shared = legacy("Minutes per month", "select 'podcast minutes'")
    legacy("Someone's own question", "select 2")

    code, out = _provision(fake, capsys)
    assert code == 0, out
    cards = _by_key_ours(fake)
    assert cards["overview/overview_top_tracks"]["id"] == top_tracks
    assert fake.cards[shared]["archived"] is True
    assert f"archived card {shared} (Minutes per month)" in out
    assert shared not in {c["id"] for c in cards.values()}
    assert len(cards) == 42
    assert fake.cards[3]["archived"] is False  # not ours: left alone


def _by_key_ours(fake: FakeMetabase) -> dict[str, dict]:
    return {
        marker_of(c.get("description")): c
        for c in fake.active_cards()
        if marker_of(c.get("description"))
    }


def test_an_entry_removed_from_the_config_is_archived(
    metabase_env, fake, capsys, tmp_path: Path
) -> None:
    """Deleting a card from dashboards.yaml archives its card on the next run."""
    config = tmp_path / "metabase"
    config.mkdir()
    (config / "cards").mkdir()
    for name in ("overview_minutes_per_day.sql", "overview_top_artists.sql"):
        (config / "cards" / name).write_text((FIXTURE / "cards" / name).read_text())
    text = (FIXTURE / "dashboards.yaml").read_text()
    (config / "dashboards.yaml").write_text(text)
    assert _provision(fake, capsys, config)[0] == 0
    assert len(fake.active_cards()) == 2
    cut = text[: text.index("      - key: overview_top_artists")]
    (config / "dashboards.yaml").write_text(cut)
    code, out = _provision(fake, capsys, config)
    assert code == 0 and "archived card" in out and "(Top artists)" in out
    assert [marker_of(c["description"]) for c in fake.active_cards()] == [
        "overview/overview_minutes_per_day"
    ]
    (dash,) = fake.dashboards.values()
    assert len(dash["dashcards"]) == 1


def test_a_collection_named_like_the_root_gets_its_own(
    metabase_env, fake, capsys, tmp_path: Path
) -> None:
    """`collection: Our analytics` is the Root collection's name; Root's id is the string
    "root", which a card cannot take as its collection: provisioning makes a collection of that
    name instead of failing with Metabase's 400 half-way."""
    import shutil

    config = tmp_path / "metabase"
    shutil.copytree(CONFIG, config)
    text = (config / "dashboards.yaml").read_text(encoding="utf-8")
    (config / "dashboards.yaml").write_text(
        text.replace("collection: Music Tracker", "collection: Our analytics", 1), encoding="utf-8"
    )
    code, out = _provision(fake, capsys, config)
    assert code == 0, out
    (ours,) = [c for c in fake.collections.values() if c["name"] == "Our analytics"]
    assert {card["collection_id"] for card in fake.active_cards()} == {ours["id"]}
    assert _provision(fake, capsys, config)[0] == 0
    assert len(fake.collections) == 1, "a rerun finds it again"


def test_a_wrong_password_is_refused(metabase_env, fake, capsys, monkeypatch) -> None:
    """Once the admin exists, a wrong password stops provisioning with exit 1."""
    assert _provision(fake, capsys)[0] == 0
    monkeypatch.setenv("MUSIC_TRACKER_METABASE_PASSWORD", "not-the-password")
    code, out = _provision(fake, capsys)
    assert code == 1 and "401" in out


def test_a_bad_duckdb_memory_limit_stops_before_any_call(
    data_dir: Path, fake, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A memory_limit DuckDB cannot read is a configuration error naming the setting."""
    monkeypatch.setenv("MUSIC_TRACKER_METABASE_PASSWORD", PASSWORD)
    monkeypatch.setenv("MUSIC_TRACKER__METABASE__DUCKDB_MEMORY_LIMIT", "lots")
    code, out = _provision(fake, capsys)
    assert code == 2 and "metabase.duckdb_memory_limit" in out
    assert not fake.requests


def test_missing_password_is_a_clear_error(data_dir: Path, capsys) -> None:
    """Without the admin password in the environment, provisioning stops before any call."""
    assert main(["metabase", "provision", "--config-dir", str(FIXTURE)]) == 2
    assert "MUSIC_TRACKER_METABASE_PASSWORD" in capsys.readouterr().err


# ---------- the fake refuses what it must (so the tests above can fail)


def _logged_in(fake: FakeMetabase, reporting: Path) -> tuple[MetabaseClient, int, int]:
    client = MetabaseClient(fake.url)
    client.setup(fake.setup_token, {"email": "a@b.c", "password": PASSWORD}, "M")
    db = client.create_database(
        {"engine": "duckdb", "name": "D", "details": {"database_file": str(reporting)}}
    )
    return client, db["id"], client.create_collection("C", "c")["id"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"display": "pin"}, "not a Metabase visualization"),
        ({"display": "text"}, "dashboard-only"),
        ({"display": "map", "visualization_settings": {"map.type": "pin"}}, "latitude"),
        ({"display": "map", "visualization_settings": {"map.type": "region"}}, "map.region"),
        ({"description": ""}, "non-blank"),
        ({"colour": "red"}, "disallowed keys"),
        ({"visualization_settings": None}, "missing"),
        (
            {"dataset_query": {"type": "native", "database": 99, "native": {"query": "x"}}},
            "existing database",
        ),
        (
            {"dataset_query": {"type": "native", "database": 1, "native": {"query": "{{y}}"}}},
            "has no template tag",
        ),
    ],
)
def test_fake_refuses_cards_metabase_would_not_draw(
    fake, reporting: Path, change: dict, message: str
) -> None:
    """Unknown displays, incomplete maps, blank descriptions, unknown keys, missing fields."""
    from pipeline.clients.http import HttpError

    client, db_id, coll = _logged_in(fake, reporting)
    body = {
        "name": "X",
        "display": "table",
        "visualization_settings": {},
        "collection_id": coll,
        "dataset_query": {"type": "native", "database": db_id, "native": {"query": "select 1"}},
    }
    with pytest.raises(HttpError, match="400") as refused:
        client.create_card({**body, **change})
    assert message in fake.refusals[-1], (refused.value, fake.refusals)
    assert not fake.cards


def test_fake_refuses_without_a_session_and_bad_dashcards(fake, reporting: Path) -> None:
    """No session is 401; a dashcard of a foreign dashboard or an unknown filter is 400."""
    from pipeline.clients.http import AuthError, HttpError

    with pytest.raises(AuthError):
        MetabaseClient(fake.url).collections()
    client, db_id, coll = _logged_in(fake, reporting)
    dash = client.create_dashboard({"name": "D", "collection_id": coll, "parameters": []})
    card = client.create_card(
        {
            "name": "X",
            "display": "table",
            "visualization_settings": {},
            "dataset_query": {"type": "native", "database": db_id, "native": {"query": "select 1"}},
        }
    )
    good = {"id": -1, "card_id": card["id"], "row": 0, "col": 0, "size_x": 4, "size_y": 4}
    for bad in (
        {**good, "id": 7},
        {**good, "size_x": 0},
        {**good, "col": 22},
        {**good, "parameter_mappings": [{"parameter_id": "p", "card_id": card["id"]}]},
    ):
        with pytest.raises(HttpError, match="400"):
            client.update_dashboard(dash["id"], {"dashcards": [bad]})
    client.update_dashboard(dash["id"], {"dashcards": [good]})
    assert len(client.dashboard(dash["id"])["dashcards"]) == 1


# ---------- the config loader checks the same


def _config(tmp_path: Path, card_yaml: str, sql: str = "select 1 as latitude") -> Path:
    (tmp_path / "cards").mkdir(exist_ok=True)
    (tmp_path / "cards/x.sql").write_text(sql)
    (tmp_path / "dashboards.yaml").write_text(
        "collection: C\ndatabase: {name: D}\ndashboards:\n"
        f"  - {{key: a, name: A, cards: [{{key: x, name: X, sql: cards/x.sql, {card_yaml}}}]}}\n"
    )
    return tmp_path


@pytest.mark.parametrize(
    ("card_yaml", "message"),
    [
        ("display: pin", "not a Metabase visualization"),
        ("display: map", "map.type"),
        (
            "display: map, visualization_settings: {map.type: pin, map.latitude_column: latitude}",
            "map.longitude_column",
        ),
        ("display: map, visualization_settings: {map.type: region}", "map.region"),
        ("display: bar, visualization_settings: {graph.metrics: [plays]}", "'plays'"),
    ],
)
def test_config_refuses_displays_metabase_cannot_draw(
    tmp_path: Path, card_yaml: str, message: str
) -> None:
    """An unknown display, an incomplete map or a setting naming a missing column is a config
    error naming the card, before any call to Metabase."""
    with pytest.raises(DashboardConfigError, match=r"cards\[0\] \(x\)") as error:
        load_config(_config(tmp_path, card_yaml))
    assert message in str(error.value)


def test_config_errors_name_the_place(tmp_path: Path) -> None:
    """A card whose template tag has no dashboard filter is rejected with its position."""
    with pytest.raises(DashboardConfigError, match=r"dashboards\[0\]\.cards\[0\].*month"):
        load_config(_config(tmp_path, "display: table", "select {{month}}"))


def test_latest_year_renders_as_sql_for_tests_and_benchmarks() -> None:
    """``default: latest`` renders as the latest year with plays, computed by the query."""
    sql = render_sql(
        "select 1 where true [[and year = {{year}}]]",
        [{"slug": "year", "type": "number", "default": "latest"}],
    )
    assert re.sub(r"\s+", " ", sql) == (
        "select 1 where true and year = (select max(year(local_date)) from fct_plays) "
    )
    con = duckdb.connect()
    con.execute("create table fct_plays as select date '2019-03-01' as local_date")
    assert con.execute(sql.replace("year =", "2019 =")).fetchall() == [(1,)]


def test_memory_sizes_read_as_duckdb_reads_them() -> None:
    """MB is 10^6 bytes and MiB 2^20, as DuckDB reads memory_limit; nonsense is refused."""
    assert memory_bytes("256MB") == 256_000_000
    assert memory_bytes("192MiB") == 192 * 2**20
    assert memory_bytes("1GiB") == 2**30
    with pytest.raises(ValueError):
        memory_bytes("lots")


def test_layout_wraps_rows_of_the_24_column_grid() -> None:
    """Cards fill a row left to right and wrap when the next one does not fit."""
    config = load_config(FIXTURE)
    cards = config.dashboards[0].cards * 2
    assert layout(cards) == [(0, 0), (0, 16), (6, 0), (6, 16)]
