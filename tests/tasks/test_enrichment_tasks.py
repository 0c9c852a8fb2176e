"""Enrichment as Luigi tasks: an outage or no network never stops the build."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import vcr

from pipeline.enrich import runs
from pipeline.paths import lake
from pipeline.settings import reload_settings
from tests.conftest import FIXTURES, run_luigi

DAY = dt.date(2023, 2, 25)
EXPORT = FIXTURES / "exports" / "efrrowini_Streaming_History_Audio_2023_first20.json"
CASSETTE = Path(__file__).parent.parent / "cassettes" / "test_enrichment_tasks"


def _import() -> None:
    from pipeline.tasks import ImportExport

    assert run_luigi([ImportExport(file=str(EXPORT), account="me")])


def test_musicbrainz_outage_is_recorded_and_the_task_completes(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every answer a 503: three failures in a row pause MusicBrainz; the partition still lands."""
    from pipeline.tasks import EnrichArtists

    for name, value in {
        "ENRICHMENT__ENABLED": "true",
        "ENRICHMENT__MAX_CONSECUTIVE_FAILURES": "3",
        "MUSICBRAINZ__MAX_RETRIES": "0",
        "MUSICBRAINZ__MIN_INTERVAL_SECONDS": "0",
    }.items():
        monkeypatch.setenv(f"MUSIC_TRACKER__{name}", value)
    reload_settings()
    _import()
    with vcr.use_cassette(
        str(CASSETTE / "musicbrainz_outage.yaml"),
        record_mode="none",
        match_on=("method", "host", "path"),
        allow_playback_repeats=True,
    ):
        assert run_luigi([EnrichArtists(date=DAY)])
    rows = pq.read_table(lake().dated_partition(runs.MB_ARTISTS, DAY)).to_pylist()
    assert [r["status"] for r in rows] == ["failed"] * 3
    state = runs.open_state(lake(), "musicbrainz")
    assert state.resume_at() is not None and "outage" in (state.get("pause_reason") or "")
    state.close()


@pytest.mark.slow
def test_offline_build_still_runs_dbt_with_empty_lookups(data_dir: Path) -> None:
    """With enrichment off (the demo), every lookup partition exists and the warehouse builds."""
    from pipeline.tasks import DailyPipeline

    _import()
    assert run_luigi([DailyPipeline(date=DAY)])
    run_day = dt.datetime.now(dt.UTC).date()  # a run for a past day builds (and looks up) today
    for dataset in (runs.TRACKS, runs.ALBUMS, runs.ARTISTS, runs.MB_ARTISTS, runs.GEO_PLACES):
        table = pq.read_table(lake().dated_partition(dataset, run_day))
        assert table.num_rows == 0
        meta = (table.schema.metadata or {}).get(b"music_tracker.provenance", b"")
        assert b"enrichment.enabled is false" in meta or b"no Spotify token" in meta
    assert list(lake().reporting_mart_dir("fct_plays").glob("*.parquet"))


def _save_poll(fixture: str, poll_id: str) -> None:
    """A recently-played answer saved by a poll of DAY, as PollRecentlyPlayed keeps it."""
    import shutil

    target = lake().raw_recently_played("me", DAY, poll_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / fixture, target)


def _tracks() -> dict[str, dict]:
    rows = pq.read_table(lake().dated_partition(runs.TRACKS, DAY)).to_pylist()
    return {r["track_id"]: r for r in rows}


def test_rerunning_a_catalogue_task_after_deleting_its_partition_recreates_it(
    data_dir: Path,
) -> None:
    """Deleting the day's track partition (Luigi's way to rerun) and rerunning the task lands
    the harvested tracks again, from the saved polls and without a call: never empty."""
    from pipeline.tasks import EnrichCatalogue

    _import()
    _save_poll("spotify_api/java_recently_played_limit2_2023.json", "poll-1")
    assert run_luigi([EnrichCatalogue(date=DAY)])
    before = _tracks()
    assert len(before) == 2
    lake().dated_partition(runs.TRACKS, DAY).unlink()
    assert not EnrichCatalogue(date=DAY).complete()
    assert run_luigi([EnrichCatalogue(date=DAY)])
    after = _tracks()
    assert set(after) == set(before)
    assert {r["source"] for r in after.values()} == {"recently_played"}
    meta = pq.read_schema(lake().dated_partition(runs.TRACKS, DAY)).metadata
    run = json.loads(meta[b"music_tracker.provenance"])["run"]
    assert (run["calls"], run["harvested"], run["forgotten"]) == (0, 2, 2)


def test_a_poll_saved_after_the_days_run_is_harvested_in_the_next_cycle(data_dir: Path) -> None:
    """Harvesting is part of every cycle: a poll saved after today's catalogue run makes the
    task due again, and its tracks join the day's partition beside the earlier ones."""
    from pipeline.tasks import EnrichCatalogue

    _import()
    _save_poll("spotify/zmb3_recently_played_first5.json", "poll-1")
    assert run_luigi([EnrichCatalogue(date=DAY)])
    first = _tracks()
    assert EnrichCatalogue(date=DAY).complete()
    _save_poll("spotify_api/java_recently_played_limit2_2023.json", "poll-2")
    assert not EnrichCatalogue(date=DAY).complete()
    assert run_luigi([EnrichCatalogue(date=DAY)])
    both = _tracks()
    assert set(first) < set(both)
    assert both["4rERaNiKlILD603GJvdEvm"]["artist_names"] == ["Ben Böhmer", "Romain Garcia"]
    assert EnrichCatalogue(date=DAY).complete()


@pytest.mark.slow
def test_a_polled_tracks_second_artist_reaches_the_warehouse_in_the_same_cycle(
    data_dir: Path,
) -> None:
    """The day's pipeline ran; a new poll is saved; the next cycle's build has its track's
    second credited artist (Romain Garcia) in dim_artist, not only after the next UTC day."""
    import duckdb

    from pipeline.tasks import DailyPipeline

    _import()
    assert run_luigi([DailyPipeline(date=DAY)])
    _save_poll("spotify_api/java_recently_played_limit2_2023.json", "poll-2")
    assert run_luigi([DailyPipeline(date=DAY)])
    con = duckdb.connect(str(lake().warehouse), read_only=True)
    try:
        names = {r[0] for r in con.execute("select artist_name from marts.dim_artist").fetchall()}
    finally:
        con.close()
    assert {"Ben Böhmer", "Romain Garcia"} <= names
