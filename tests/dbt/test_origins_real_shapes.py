"""Artist origins from real MusicBrainz search answers, all the way to dim_artist and the maps.

A search answer's begin area has a name and a type but no ISO code (Burzum: "Bergen", a City),
only the artist has a ``country``: exactly where the origin key used to be built two ways
("Bergen|NO" in Python, "Bergen|" in SQL). Here the search answer (the real Burzum answer with
its area a country, see tests/fixtures/PROVENANCE.md) is replayed through the shipped client
and run loop, the origin is geocoded (``city=Bergen&countrycodes=no``), dbt builds, and the
artist must have a real location with coordinates in dim_artist, agg_artist_origins and both
origin map cards.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import vcr

from tests.conftest import REPO
from tests.dbt import crafted
from tests.dbt.harness import dbt, lake_at, query
from tests.fake_time import FakeTime

pytestmark = pytest.mark.slow

CASSETTES = Path(__file__).parent.parent / "cassettes" / "test_enrichment_runs"
CARDS = REPO / "config" / "metabase" / "cards"
DAY = dt.date(2024, 11, 1)
START = dt.datetime(2024, 11, 2, 6, 0, tzinfo=dt.UTC)
VCR = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="none",
    match_on=("method", "scheme", "host", "port", "path", "query"),
)


@pytest.fixture(scope="module")
def warehouse(module_lake: Path) -> Iterator[Path]:
    """Burzum played; MusicBrainz and Nominatim answers replayed; dbt built."""
    from pipeline.enrich import runs
    from pipeline.paths import lake
    from pipeline.settings import reload_settings

    with lake_at(module_lake), pytest.MonkeyPatch.context() as mp:
        mp.setenv("MUSIC_TRACKER__ENRICHMENT__ENABLED", "true")
        reload_settings()
        the_lake = lake()
        crafted.write_plays(
            the_lake,
            [
                crafted.play(
                    "b1", "2024-11-01T10:00:00", 6, name_only=("Dunkelheit", "Burzum", "Filosofem")
                )
            ],
        )
        clock = FakeTime(START)
        context = runs.RunContext(
            the_lake, DAY, now=clock.now, clock=clock.clock, sleep=clock.sleep
        )
        with VCR.use_cassette("name_search_area_norway.yaml"):
            runs.finish(the_lake, DAY, runs.run_artists(context), [runs.MB_ARTISTS])
        with VCR.use_cassette("geocode_bergen_norway.yaml"):
            runs.finish(the_lake, DAY, runs.run_places(context), [runs.GEO_PLACES])
        dbt(["build"])
        yield the_lake.warehouse
        mp.undo()
    reload_settings()


def _card(name: str) -> str:
    """A map card's SQL with its optional listener filter left out (every listener)."""
    return re.sub(r"\[\[.*?\]\]", "", (CARDS / name).read_text(encoding="utf-8"), flags=re.S)


def test_dim_artist_has_the_geocoded_origin(warehouse: Path) -> None:
    """Burzum's origin location is Bergen with coordinates, not the Unknown member."""
    rows = query(
        warehouse,
        "select a.origin_area_name, a.origin_country_code, l.place_key, l.city, l.latitude, "
        "l.longitude from marts.dim_artist a "
        "join marts.dim_location l on a.origin_location_sk = l.location_sk "
        "where a.artist_name = 'Burzum'",
    )
    assert rows == [("Bergen", "NO", "Bergen|NO", "Bergen", 60.3943055, 5.3259192)]


def test_origins_fact_and_both_maps_show_the_place(warehouse: Path) -> None:
    """agg_artist_origins carries the coordinates; the country map and the places map both
    show Bergen's minutes (the cards' own SQL)."""
    facts = query(
        warehouse,
        "select place_name, country_code, latitude, minutes_played from marts.agg_artist_origins",
    )
    assert facts == [("Bergen", "NO", 60.3943055, 6.0)]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("set schema 'marts'")
        places = con.execute(_card("origins_places.sql")).fetchall()
        countries = con.execute(_card("origins_country_map.sql")).fetchall()
    finally:
        con.close()
    assert [(p[0], p[2], p[3]) for p in places] == [("Bergen", 60.3943055, 5.3259192)]
    assert [(c[0], c[2]) for c in countries] == [("NO", 6.0)]
