"""Enrichment as Luigi tasks: an outage or no network never stops the build."""

from __future__ import annotations

import datetime as dt
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
