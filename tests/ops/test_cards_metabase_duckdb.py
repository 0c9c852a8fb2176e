"""Every Metabase card's SQL runs in the DuckDB the Metabase driver bundles, not only ours.

Metabase reads ``reporting.duckdb`` through metabase_duckdb_driver 1.5.3.0 (DuckDB 1.5.3); the
product and its other tests use the ``duckdb`` of ``uv.lock`` (2.0.x). A card written against
2.0 (a function, a syntax or a cast 1.5.3 lacks) would pass every other test and fail on the
dashboard; here each card runs in both, on the reporting DB built from the bundled sample, with
its filters at their defaults as ``provision`` stores them, and with Metabase's connection
settings (read-only, ``memory_limit``, ``old_implicit_casting``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.ops.metabase import (
    driver_duckdb_settings,
    latest_play_year,
    load_config,
    rendered_cards,
    setting_columns,
)
from tests.conftest import REPO
from tests.metabase_duckdb import METABASE_DUCKDB, connect, run_cards, run_cards_in
from tests.ops.conftest import cli_env, run_cli

pytestmark = pytest.mark.slow

METABASE = REPO / "config" / "metabase"


@pytest.fixture(scope="module")
def reporting(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reporting DB of a lake built by `music-tracker import` of the bundled sample."""
    root = tmp_path_factory.mktemp("home") / "data"
    result = run_cli(["import", str(REPO / "data" / "sample")], cli_env(root))
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "reporting" / "reporting.duckdb"


def _settings() -> dict[str, object]:
    from pipeline.settings import MetabaseSettings

    return driver_duckdb_settings(MetabaseSettings())


def test_every_card_runs_in_the_drivers_duckdb_as_in_ours(
    reporting: Path, metabase_duckdb: Path
) -> None:
    """Each card succeeds in DuckDB 1.5.3 with the same column names and row count as in the
    product's DuckDB, and returns every column its visualization settings name."""
    year = latest_play_year(str(reporting))
    assert year is not None
    cards = rendered_cards(METABASE, latest_year=year)
    assert len(cards) == len(list((METABASE / "cards").glob("*.sql")))
    con = connect(reporting, _settings())
    try:
        ours = {c["card"]: c for c in run_cards(con, cards, repeats=1)}
    finally:
        con.close()
    driver = run_cards_in(metabase_duckdb, reporting, cards, _settings(), repeats=1)
    assert driver["version"] == METABASE_DUCKDB
    theirs = {c["card"]: c for c in driver["cards"]}
    assert set(theirs) == set(cards)

    declared = {
        card.key: {column for _, column in setting_columns(card.visualization_settings)}
        for dash in load_config(METABASE).dashboards
        for card in dash.cards
    }
    problems = []
    for key in cards:
        mine, other = ours[key], theirs[key]
        if mine["error"]:
            problems.append(f"{key}: fails in duckdb 2.x: {mine['error']}")
        if other["error"]:
            problems.append(f"{key}: fails in DuckDB {METABASE_DUCKDB}: {other['error']}")
            continue
        if other["columns"] != mine["columns"]:
            problems.append(f"{key}: columns {other['columns']} in 1.5.3, {mine['columns']} here")
        if other["rows"] != mine["rows"]:
            problems.append(f"{key}: {other['rows']} rows in 1.5.3, {mine['rows']} here")
        missing = declared[key] - set(other["columns"] or [])
        if missing:
            problems.append(f"{key}: settings name columns it does not return: {sorted(missing)}")
    assert not problems, "\n".join(problems)
    assert sum(1 for c in theirs.values() if c["rows"]) > len(cards) // 2


def test_a_card_the_drivers_duckdb_cannot_run_is_reported(
    reporting: Path, metabase_duckdb: Path
) -> None:
    """The check can fail: a function DuckDB 1.5.3 lacks is that card's error, the other
    cards still run."""
    cards = {
        "missing_function": "select no_such_function_in_duckdb(1) as x",
        "fine": "select count(*) as plays from fct_plays",
    }
    driver = run_cards_in(metabase_duckdb, reporting, cards, _settings(), repeats=1)
    by_card = {c["card"]: c for c in driver["cards"]}
    assert "no_such_function_in_duckdb" in by_card["missing_function"]["error"]
    assert by_card["fine"]["error"] is None and by_card["fine"]["columns"] == ["plays"]
