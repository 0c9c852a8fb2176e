"""A build's inputs made ready: redone exactly when their files or settings changed."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import schemas, settings
from pipeline.io.parquet import write_parquet_atomic
from pipeline.paths import DBT_DATED_DATASETS, lake
from pipeline.warehouse import prepare


def test_inputs_are_made_once_and_again_when_the_listeners_change(data_dir: Path) -> None:
    """Placeholders for every dataset dbt reads and the listeners file are written; a second
    run writes nothing; a new time zone in the settings rewrites the listeners file."""
    the_lake = lake()
    prepare.prepare_inputs(the_lake)
    for dataset in DBT_DATED_DATASETS:
        assert list(the_lake.dated_dir(dataset).glob("date=*/*.parquet")), dataset
    listeners = the_lake.listeners_file
    written = listeners.stat().st_mtime_ns

    prepare.prepare_inputs(the_lake)
    assert listeners.stat().st_mtime_ns == written

    accounts = settings.get_settings().accounts
    original = accounts[0]
    accounts[0] = replace(original, timezone="Pacific/Auckland")
    try:
        prepare.prepare_inputs(the_lake)
    finally:
        accounts[0] = original
    zones = pq.read_table(listeners).column("timezone").to_pylist()
    assert "Pacific/Auckland" in zones


def test_a_listeners_file_changed_behind_its_back_is_written_again(data_dir: Path) -> None:
    """The stamp covers the file too: a listeners file replaced by hand is checked again."""
    the_lake = lake()
    prepare.prepare_inputs(the_lake)
    right = pq.read_table(the_lake.listeners_file)
    wrong = right.set_column(
        right.schema.get_field_index("timezone"),
        "timezone",
        pa.array(["Europe/Paris"] * right.num_rows, pa.string()),
    )
    write_parquet_atomic(the_lake.listeners_file, wrong)
    prepare.prepare_inputs(the_lake)
    assert pq.read_table(the_lake.listeners_file).equals(right)


def test_an_old_musicbrainz_partition_gets_origin_keys_after_a_stamp(data_dir: Path) -> None:
    """A partition from before ``origin_place_key`` that appears after the last check (a
    restored backup) is upgraded: the check's stamp is of the files, not a one-off flag."""
    the_lake = lake()
    prepare.prepare_inputs(the_lake)  # stamped with no MusicBrainz partition
    old_schema = pa.schema([f for f in schemas.MUSICBRAINZ_ARTISTS if f.name != "origin_place_key"])
    target = the_lake.dated_partition("lookups/musicbrainz_artists", dt.date(2025, 5, 1))
    write_parquet_atomic(target, schemas.empty(old_schema))
    prepare.prepare_inputs(the_lake)
    assert "origin_place_key" in pq.read_schema(target).names
