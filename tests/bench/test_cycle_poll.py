"""The benchmark cycle's poll step: the product's poll replaying a cassette written per run."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import vcr

from tests.conftest import FIXTURES, run_luigi

EXPORT = FIXTURES / "exports" / "efrrowini_Streaming_History_Audio_2023_first20.json"


@pytest.fixture
def lake_dir(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A lake with a few staged plays (a real export sample) and the poll step's settings."""
    from bench.poll import poll_env
    from pipeline import settings
    from pipeline.tasks import ImportExport, StageAllPlays

    for key, value in poll_env().items():
        monkeypatch.setenv(key, value)
    settings.reload_settings()
    assert run_luigi([ImportExport(file=str(EXPORT), account="me"), StageAllPlays()])
    return data_dir


#: The polls' moment: noon UTC yesterday, so a run near midnight still has slots and room for
#: the plays in the day, and no play is after the clock.
NOON_YESTERDAY = dt.datetime.combine(
    dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC
)


def _plays(folder: Path) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in sorted(folder.glob("*.parquet")))


def test_each_seed_brings_fifty_new_api_plays(lake_dir: Path, tmp_path: Path) -> None:
    """Two runs (two seeds) each land and stage 50 new plays from source api, no duplicates."""
    from bench.poll import PLAYS, poll_cassette

    day = NOON_YESTERDAY.date()
    first = poll_cassette(lake_dir, 1, tmp_path / "cassettes", NOON_YESTERDAY)
    second = poll_cassette(lake_dir, 2, tmp_path / "cassettes", NOON_YESTERDAY)
    assert first["plays"] == second["plays"] == PLAYS
    assert first["played"] == second["played"] == 2  # token refresh + recently-played
    assert second["first"] > first["last"]  # after the newest play the lake held
    assert second["slot"] > first["slot"]
    landed = _plays(lake_dir / "staged/polls/v1/account=me" / f"date={day}")
    staged = _plays(lake_dir / "staged/plays/v1" / f"date={day}")
    for table in (landed, staged):
        assert table.num_rows == 2 * PLAYS
        assert len(set(table["play_id"].to_pylist())) == 2 * PLAYS
        assert set(table["source"].to_pylist()) == {"api"}
        assert {t.date() for t in table["played_at"].to_pylist()} == {day}
    assert len(list((lake_dir / "raw/spotify/recently_played").rglob("*.json"))) == 2
    token = lake_dir / "state/tokens/me.json"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert json.loads(token.read_text())["access_token"] == "bench-access-token-2"  # refreshed


def test_cassette_items_keep_the_real_shape(tmp_path: Path) -> None:
    """Every item has the real item's keys; track IDs vary by seed, albums stay the real ones."""
    from bench.poll import bench_item, real_items

    templates = real_items()
    for k, template in enumerate(templates):
        a, b = bench_item(template, 1, k, 1_800_000_000_000), bench_item(template, 2, k, 1)
        assert a.keys() == template.keys() and a["track"].keys() == template["track"].keys()
        assert len(a["track"]["id"]) == 22 and a["track"]["id"] != b["track"]["id"]
        assert a["track"]["uri"] == f"spotify:track:{a['track']['id']}"
        assert a["track"]["album"] == template["track"]["album"]
        assert a["played_at"] == "2027-01-15T08:00:00.000Z"


def test_cycle_enrichment_has_nothing_to_fetch(
    lake_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After cycle-prep, the day's catalogue enrichment (enabled, token present) makes no call."""
    from bench.poll import poll_cassette, prepare_cycle
    from pipeline import settings
    from pipeline.io.parquet import read_provenance
    from pipeline.paths import lake
    from pipeline.tasks import EnrichCatalogue

    day = NOON_YESTERDAY.date()
    prepared = prepare_cycle(lake_dir, day)  # as the bench runs it: before the poll
    assert prepared["marked_found"] > 0 and prepared["partitions_set_aside"] == 0
    poll_cassette(lake_dir, 1, tmp_path / "cassettes", NOON_YESTERDAY)
    monkeypatch.setenv("MUSIC_TRACKER__ENRICHMENT__ENABLED", "true")
    settings.reload_settings()
    empty = tmp_path / "no_calls.yaml"
    empty.write_text("interactions: []\nversion: 1\n", encoding="utf-8")
    with vcr.use_cassette(str(empty), record_mode="none"):  # any request would fail the run
        assert run_luigi([EnrichCatalogue(date=day)])
    target = lake().dated_partition("lookups/spotify_tracks", day)
    report = (read_provenance(target) or {})["run"]
    assert report["calls"] == 0 and report["stopped"] == ""
    assert report["harvested"] == 50 and report["wanted"] == report["cached"]
    again = prepare_cycle(lake_dir, day)  # the next cycle runs the day's enrichment again
    assert again == {"marked_found": 0, "partitions_set_aside": 3}
    assert not target.exists()
    assert len(list(target.parent.glob("earlier-*.parquet"))) == 1


def test_a_busy_day_of_cycles_never_plays_in_the_future() -> None:
    """Many cycles in one day pack their plays closer together, never after now (the
    warehouse's assert_no_play_in_future fails a build with plays in the future)."""
    from bench.poll import PLAYS, play_times

    day = dt.date(2026, 12, 6)
    start = int(dt.datetime(2026, 12, 6, tzinfo=dt.UTC).timestamp() * 1000)
    now = start + 10 * 3_600_000  # 10:00 UTC
    newest = now - 60_000  # the lake's newest play a minute ago
    times = play_times(newest, day, seed=7, now_ms=now)
    assert len(times) == PLAYS
    assert newest < times[0] and times[-1] <= now
    assert all(a < b for a, b in zip(times, times[1:], strict=False))
    spread = play_times(start, day, seed=7)  # an empty day: 30 s apart as before
    assert spread[1] - spread[0] == 30_000


def test_an_aged_lake_holds_its_saved_polls_landed_as_the_product_lands_them(
    lake_dir: Path,
) -> None:
    """Each poll's response is kept under raw/, its new plays land in a poll file of their
    day, and staging then holds every one of them once."""
    from bench.poll import age_polls
    from pipeline.tasks import StageAllPlays

    assert age_polls(lake_dir, 2, 3, 4) == {"polls": 6, "plays": 24}
    today = dt.datetime.now(dt.UTC).date()
    days = [today - dt.timedelta(days=2), today - dt.timedelta(days=1)]
    assert len(list((lake_dir / "raw/spotify/recently_played").rglob("*.json"))) == 6
    for day in days:
        folder = lake_dir / "staged/polls/v1/account=me" / f"date={day}"
        assert len(list(folder.glob("*.parquet"))) == 3
    assert run_luigi([StageAllPlays()])
    for day in days:
        staged = _plays(lake_dir / "staged/plays/v1" / f"date={day}")
        assert staged.num_rows == 12 and len(set(staged["play_id"].to_pylist())) == 12
        assert set(staged["source"].to_pylist()) == {"api"}
