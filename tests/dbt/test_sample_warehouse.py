"""The warehouse built from the bundled sample, through the real import path, and every
Metabase card's SQL run against the reporting database Metabase would open.

The module imports ``data/sample`` once (ImportExport -> StagePlays -> DbtBuild ->
PublishReporting, as ``music-tracker demo`` does; dbt's own data tests run inside that build)
and runs ``dbt docs generate`` once. Offline, enrichment lookups are empty placeholders, so
artists, genres and origins are Unknown; the cards that can only show enriched data may be
empty (EMPTY_OFFLINE).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.conftest import REPO
from tests.dbt.harness import dbt, lake_at, query

pytestmark = pytest.mark.slow

METABASE = REPO / "config" / "metabase"
DASHBOARDS = yaml.safe_load((METABASE / "dashboards.yaml").read_text(encoding="utf-8"))
CARDS = [(dashboard, card) for dashboard in DASHBOARDS["dashboards"] for card in dashboard["cards"]]
DISPLAYS = {"table", "line", "bar", "row", "pie", "scalar", "area", "map", "pin"}

#: Cards that show only what enrichment adds (no lookups offline) or what the sample lacks.
EMPTY_OFFLINE = {
    "genres_top",  # every artist's genre is Unknown until MusicBrainz/Spotify answer
    "origins_country_map",  # no origins without MusicBrainz
    "origins_places",  # no coordinates without Nominatim
    "quality_quarantine",  # the sample has no bad rows
    "quality_gaps",  # the sample was not polled
}

from pipeline.ops.metabase import TEMPLATE_TAG as TAG  # noqa: E402


def render(sql: str, parameters: list[dict]) -> str:
    """A card's SQL with the filters at their defaults (the product's own renderer)."""
    from pipeline.ops.metabase import render_sql

    return render_sql(sql, parameters)


@pytest.fixture(scope="module")
def sample_build(module_lake: Path) -> Iterator[dict]:
    """Import the bundled sample into a fresh lake (build + publish), then generate the docs."""
    from pipeline.cli import import_paths
    from pipeline.paths import lake
    from pipeline.settings import get_settings

    with lake_at(module_lake):
        settings = get_settings()
        code = import_paths([settings.paths.sample_dir], settings.default_account)
        assert code == 0, "importing the bundled sample failed"
        the_lake = lake()
        marker = json.loads(
            sorted(the_lake.dbt_runs_dir.glob("date=*/run_results.json"))[-1].read_text()
        )
        dbt(["docs", "generate"])
        from pipeline.warehouse.run import dbt_target_dir

        target = dbt_target_dir()
        yield {
            "reporting": the_lake.reporting_db,
            "warehouse": the_lake.warehouse,
            "marker": marker,
            "catalog": json.loads((target / "catalog.json").read_text()),
            "manifest": json.loads((target / "manifest.json").read_text()),
        }


def test_dashboards_file_is_well_formed() -> None:
    """Keys are unique, every card's SQL exists, and every tag a card uses is a parameter."""
    keys = [d["key"] for d in DASHBOARDS["dashboards"]]
    assert len(keys) == len(set(keys))
    card_keys = [c["key"] for _, c in CARDS]
    assert len(card_keys) == len(set(card_keys))
    assert {
        "overview",
        "listening_patterns",
        "genres_over_time",
        "discovery",
        "origins",
        "year_recap",
        "podcasts",
        "data_quality",
    } <= set(keys)
    for dashboard, card in CARDS:
        sql = (METABASE / card["sql"]).read_text(encoding="utf-8")
        slugs = {p["slug"] for p in dashboard.get("parameters", [])}
        assert set(TAG.findall(sql)) <= slugs, card["key"]
        assert card["display"] in DISPLAYS, card["key"]
        assert 1 <= card["width"] <= 24 and card["height"] >= 1
    origins = next(d for d in DASHBOARDS["dashboards"] if d["key"] == "origins")
    assert "OpenStreetMap" in origins["description"] and "Nominatim" in origins["description"]
    recap = next(d for d in DASHBOARDS["dashboards"] if d["key"] == "year_recap")
    assert "year" in {p["slug"] for p in recap["parameters"]}


def test_sample_build_ran_every_dbt_test(sample_build: dict) -> None:
    """The first build (the import's) passed every model and every data test, none skipped or
    failed: each model's plain tests in its ``column_checks`` batch, the tests tagged
    whole_suite and the singular tests by name. It leaves the unit tests and the plain tests
    one by one to the whole suite (``cron daily``, ``rebuild``)."""
    from pipeline.warehouse.selection import BATCHED

    counts = sample_build["marker"]["counts"]
    assert set(counts) <= {"success", "pass"}, counts
    ran = {r["unique_id"] for r in sample_build["marker"]["results"]}
    nodes = sample_build["manifest"]["nodes"].values()
    models = {n["unique_id"] for n in nodes if n["resource_type"] == "model"}
    ephemeral = {n["unique_id"] for n in nodes if n["config"].get("materialized") == "ephemeral"}
    assert models - ephemeral <= ran
    tests = [n for n in nodes if n["resource_type"] == "test"]

    def by_name_elsewhere(node: dict) -> bool:
        kind = (node.get("test_metadata") or {}).get("name")
        return kind in BATCHED and "whole_suite" not in node["tags"]

    expected = {n["unique_id"] for n in tests if not by_name_elsewhere(n)}
    assert {i for i in ran if i.startswith("test.")} == expected
    # A plain test left to the whole suite by name runs in its model's batch meanwhile: a
    # model with such tests and no column_checks would have them run only once a day.
    batched = {
        n["attached_node"]
        for n in tests
        if (n.get("test_metadata") or {}).get("name") == "column_checks"
    }
    unbatched = {
        n["name"] for n in tests if by_name_elsewhere(n) and n["attached_node"] not in batched
    }
    assert not unbatched, f"plain tests outside any column_checks: {sorted(unbatched)}"
    assert any(".column_checks_fct_plays_" in i for i in expected)
    assert any(".not_null_int_plays_localized_timezone" in i for i in expected)  # whole_suite
    assert any(".assert_sessions_do_not_overlap" in i for i in expected)  # singular
    assert not any(i.startswith("unit_test.") for i in ran)


@pytest.mark.parametrize(("dashboard", "card"), CARDS, ids=[card["key"] for _, card in CARDS])
def test_card_returns_sensible_rows(sample_build: dict, dashboard: dict, card: dict) -> None:
    """The card's SQL runs on the reporting database: rows where the sample has data, no null
    labels, shares and rates within 0-1, no negative minutes."""
    sql = render(
        (METABASE / card["sql"]).read_text(encoding="utf-8"), dashboard.get("parameters", [])
    )
    con = duckdb.connect(str(sample_build["reporting"]), read_only=True)
    try:
        cursor = con.execute(sql)
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    finally:
        con.close()
    if card["key"] in EMPTY_OFFLINE:
        return
    assert rows, f"{card['key']} returned no rows on the sample"
    assert all(row[0] is not None for row in rows), f"{card['key']}: null in {columns[0]}"
    for i, name in enumerate(columns):
        values = [row[i] for row in rows if row[i] is not None]
        if any(word in name for word in ("share", "rate", "evenness")):
            assert all(0 <= v <= 1 for v in values), (card["key"], name)
        if "minutes" in name or name in ("plays", "sessions", "artists"):
            assert all(v >= 0 for v in values), (card["key"], name)


def test_overview_numbers_match_the_sample(sample_build: dict) -> None:
    """The overview's minutes equal the sample's total playing time for 2025."""
    staged = query(
        sample_build["warehouse"],
        "select round(sum(ms_played) / 60000.0, 0) from marts.fct_plays "
        "where year(local_date) = 2025",
    )
    card = next(c for d, c in CARDS if c["key"] == "overview_minutes_total")
    dashboard = next(d for d, c in CARDS if c["key"] == "overview_minutes_total")
    sql = render((METABASE / card["sql"]).read_text(encoding="utf-8"), dashboard["parameters"])
    assert query(sample_build["reporting"], sql) == staged
    assert staged[0][0] > 1000


def test_docs_generate_covers_every_model_and_column(sample_build: dict) -> None:
    """`dbt docs generate` works, and every model and every built column has a description."""
    manifest, catalog = sample_build["manifest"], sample_build["catalog"]
    models = {k: v for k, v in manifest["nodes"].items() if v["resource_type"] == "model"}
    missing = []
    for uid, node in models.items():
        if not node["description"]:
            missing.append(uid)
        if node["config"]["materialized"] == "ephemeral":
            continue
        built = catalog["nodes"].get(uid)
        assert built is not None, f"{uid} missing from the catalog"
        documented = {c.lower() for c, v in node["columns"].items() if v.get("description")}
        missing += [f"{uid}.{c}" for c in built["columns"] if c.lower() not in documented]
    assert missing == []


def test_a_cycle_batches_each_models_tests_and_names_what_fails(
    sample_build: dict, module_lake: Path, tmp_path: Path
) -> None:
    """A cycle and a first build run a model's plain tests (not_null, unique, accepted_values,
    relationships, expressions) as one ``column_checks`` node (the whole suite runs them one by
    one): on a copy of the sample warehouse with a null key, a duplicated key, an unknown
    value, a dangling foreign key and a negative duration, the batches fail, their rows name
    exactly the tests that fail, and so does the failed build's error, with the rows each
    test fails on (``failures.failing_checks``)."""
    import shutil

    from pipeline.paths import lake
    from pipeline.warehouse.failures import failing_checks
    from pipeline.warehouse.run import dbt_target_dir, run_dbt

    copy = tmp_path / "data"
    shutil.copytree(module_lake, copy)
    db = copy / sample_build["warehouse"].relative_to(module_lake)
    with duckdb.connect(str(db)) as con:
        con.execute("update marts.dim_genre set genre_sk = null where genre_name = 'Unknown'")
        con.execute("insert into marts.dim_album select * from marts.dim_album limit 1")
        con.execute("update marts.dim_track set spotify_popularity_tier = 'Viral'")
        play = con.execute("select min(play_sk) from marts.fct_plays").fetchone()[0]
        con.execute(
            "update marts.fct_plays set platform_sk = 'nowhere', ms_played = -1 "
            f"where play_sk = '{play}'"
        )
    batched = [
        "column_checks_dim_genre_",
        "column_checks_dim_album_",
        "column_checks_dim_track_",
        "column_checks_fct_plays_",
    ]
    with lake_at(copy):
        result = run_dbt(lake(), ["test", "--select", *(f"{n}*" for n in batched)])
        target = dbt_target_dir()
        compiled = {n: next(target.glob(f"compiled/**/{n}*.sql")).read_text() for n in batched}
        results = json.loads((target / "run_results.json").read_text())["results"]
        named = failing_checks(db, results)
    assert result.returncode == 1
    # dbt's error lines reach the pipeline (the warm child forwards them): each failing batch.
    assert all(any(n in line for line in result.errors) for n in batched), result.errors
    failing = set()
    for sql in compiled.values():
        failing |= {row[0] for row in query(db, sql)}
    assert failing == {
        "not_null_dim_genre_genre_sk",
        "unique_dim_album_album_sk",  # a duplicated row repeats both of its keys
        "unique_dim_album_album_key",
        "accepted_values_dim_track_spotify_popularity_tier__Hit__Popular__Niche__Obscure__Unknown",
        "relationships_fct_plays_platform_sk__platform_sk__ref_dim_platform_",
        "expression_is_true_fct_plays_ms_played__ms_played_0",
    }
    # What the failed build's error says (build_warehouse): each failing test, with its rows.
    tracks = query(db, "select count(*) from marts.dim_track")[0][0]
    assert sorted(named) == sorted(
        [
            "not_null_dim_genre_genre_sk (1 row)",
            "unique_dim_album_album_sk (1 row)",
            "unique_dim_album_album_key (1 row)",
            "accepted_values_dim_track_spotify_popularity_tier__Hit__Popular__Niche__Obscure"
            f"__Unknown ({tracks} rows)",
            "relationships_fct_plays_platform_sk__platform_sk__ref_dim_platform_ (1 row)",
            "expression_is_true_fct_plays_ms_played__ms_played_0 (1 row)",
        ]
    )


def test_tables_and_views_are_replaced_in_place(
    sample_build: dict, module_lake: Path, tmp_path: Path
) -> None:
    """The project's table and view materializations (``macros/materializations``) replace a
    relation in one statement: a rebuilt table and view hold the new rows under their own
    names, nothing is left under a temporary or backup name, and a relation of the other type
    under the same name (a view that a new release makes a table) is dropped first."""
    import shutil

    from pipeline.paths import lake
    from pipeline.warehouse.run import run_dbt

    copy = tmp_path / "data"
    shutil.copytree(module_lake, copy)
    db = copy / sample_build["warehouse"].relative_to(module_lake)
    with duckdb.connect(str(db)) as con:
        expected = con.execute("select count(*) from marts.dim_platform").fetchone()[0]
        con.execute("drop table marts.dim_platform")
        con.execute("create view marts.dim_platform as select 1 as platform_sk")
        con.execute("create or replace view staging.stg_pipeline__gaps as select 1 as stale")
    with lake_at(copy):
        result = run_dbt(lake(), ["run", "--select", "dim_platform", "stg_pipeline__gaps"])
    assert result.returncode == 0, result.summary()
    with duckdb.connect(str(db), read_only=True) as con:
        kinds = dict(
            con.execute(
                "select table_name, table_type from information_schema.tables "
                "where table_name in ('dim_platform', 'stg_pipeline__gaps')"
            ).fetchall()
        )
        assert kinds == {"dim_platform": "BASE TABLE", "stg_pipeline__gaps": "VIEW"}
        assert con.execute("select count(*) from marts.dim_platform").fetchone()[0] == expected
        gap_columns = [r[0] for r in con.execute("describe staging.stg_pipeline__gaps").fetchall()]
        assert "stale" not in gap_columns
        leftovers = con.execute(
            "select table_name from information_schema.tables "
            "where table_name like '%__dbt_tmp%' or table_name like '%__dbt_backup%'"
        ).fetchall()
        assert leftovers == []


def test_every_model_with_plain_tests_declares_their_batch() -> None:
    """A model whose plain tests a cycle excludes (``selection.BATCHED``) must declare
    ``column_checks``, or a cycle would run none of them; its ``after`` must name every model
    its relationships point at, so the batch runs after them; and the batch checks the very
    tests the cycle's selection excludes."""
    from pipeline.warehouse.selection import BATCHED, BATCHED_TESTS

    batch_sql = (REPO / "dbt_project/tests/generic" / f"{BATCHED_TESTS}.sql").read_text()
    assert f"node.test_metadata.name in {list(BATCHED)!r}".replace("'", '"') in batch_sql

    def name(test: str | dict) -> str:
        return test if isinstance(test, str) else next(iter(test))

    def batched(test: str | dict) -> bool:
        return name(test) in BATCHED and "whole_suite" not in str(test)

    missing, unordered = [], []
    for path in (REPO / "dbt_project" / "models").rglob("_*__models.yml"):
        for model in yaml.safe_load(path.read_text(encoding="utf-8")).get("models", []):
            tests = [t for t in model.get("data_tests", []) if batched(t)] + [
                t for c in model.get("columns", []) for t in c.get("data_tests", []) if batched(t)
            ]
            declared = {name(t): t for t in model.get("data_tests", [])}
            if tests and BATCHED_TESTS not in declared:
                missing.append(model["name"])
                continue
            batch = declared.get(BATCHED_TESTS)
            after = batch[BATCHED_TESTS]["arguments"]["after"] if isinstance(batch, dict) else []
            parents = {
                t["relationships"]["arguments"]["to"] for t in tests if name(t) == "relationships"
            }
            if parents != set(after):
                unordered.append((model["name"], sorted(parents ^ set(after))))
    assert missing == []
    assert unordered == []
