"""SIGKILL right after an enrichment call got its answer, then a rerun: the lookup state and the
staged lookups equal an uninterrupted run's, the budget counts no phantom calls, and no half
file is visible. One seeded trial per service (Spotify catalogue, MusicBrainz, Nominatim)."""

from __future__ import annotations

import random
import signal
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import run_luigi
from tests.faults.helpers import run_killer, temp_leftovers, unreadable_visible_files
from tests.faults.http_faults import write_cassette
from tests.faults.test_service_faults import (
    D1,
    ENRICHMENT,
    _origins_known,
    healthy,
    import_plays,
    rows_of,
)
from tests.faults.test_service_faults import lake_dir as lake_dir  # noqa: F401 - fixture
from tests.spotify_support import write_token

#: Seeded trials per service; each kills at a different one of the run's three calls, drawn
#: at random (without repeats) from a seed per service.
TRIALS = 2


@pytest.fixture
def no_rate_limit_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    """The killed run is a subprocess with real time: the settings make its waits zero."""
    from pipeline.settings import reload_settings

    for name in (
        "MUSICBRAINZ__MIN_INTERVAL_SECONDS",
        "MUSICBRAINZ__BACKOFF_SECONDS",
        "NOMINATIM__MIN_DELAY_SECONDS",
        "NOMINATIM__ERROR_WAIT_SECONDS",
        "SPOTIFY_CATALOGUE__MIN_INTERVAL_SECONDS",
        "SPOTIFY_CATALOGUE__BACKOFF_SECONDS",
    ):
        monkeypatch.setenv(f"MUSIC_TRACKER__{name}", "0")
    reload_settings()


def lookups(lake: Path, service: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The state's lookups (without times) and call counters of one service."""
    con = sqlite3.connect(lake / "state" / "lookups" / f"{service}.sqlite")
    try:
        rows = con.execute(
            "select entity, key, status, source, attempts from lookups order by 1, 2"
        ).fetchall()
        calls = con.execute("select calls from calls").fetchall()
    finally:
        con.close()
    return rows, calls


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(TRIALS))
@pytest.mark.parametrize("service", sorted(ENRICHMENT))
def test_killed_enrichment_then_rerun_equals_clean_run(
    service: str,
    trial: int,
    lake_dir: Path,  # noqa: F811
    tmp_path: Path,
    no_rate_limit_sleeps: None,
) -> None:
    """A run killed just after its N-th call, rerun once, ends in a clean run's state."""
    import pipeline.tasks as tasks
    from tests.faults.http_faults import faulty_services
    from tests.faults.killer import ENRICH_TASKS

    task_name, db, entity, dataset, entities = ENRICHMENT[service]
    write_token("me")
    import_plays(tmp_path)
    if service == "nominatim":
        _origins_known()
    cassette = write_cassette(
        tmp_path / "healthy.yaml", [healthy(url, answer) for _, url, answer, _ in entities]
    )
    at = random.Random(f"enrich-call-{service}").sample(range(1, len(entities) + 1), TRIALS)[trial]
    args = ["--enrich", service, "--date", str(D1), "--cassette", str(cassette)]
    killed = run_killer(
        ["--point", "enrich-call", "--at", str(at), *args, "--", "--data-dir", str(lake_dir)],
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert unreadable_visible_files(lake_dir) == []
    assert ENRICH_TASKS[service] == task_name
    # The rerun (the next cron run) with the service answering as before.
    with faulty_services(cassette):
        assert run_luigi([getattr(tasks, task_name)(date=D1)])
    rows, calls = lookups(lake_dir, db)
    expected = {key: status for key, _, _, status in entities}
    assert {k: s for e, k, s, _, _ in rows if e == entity} == expected
    assert all(attempts == 0 for *_, attempts in rows)  # no failure recorded by the kill
    assert calls == [(len(entities),)]  # as a clean run: the killed run's calls left no trace
    key_field = {"track": "track_id", "artist": "lookup_key", "place": "place_key"}[entity]
    landed = rows_of(lake_dir, dataset, D1)
    assert {r[key_field]: r["status"] for r in landed} == expected
    assert len(landed) == len(entities)  # each entity once: no half run's rows
    assert unreadable_visible_files(lake_dir) == []
    assert [p for p in temp_leftovers(lake_dir) if "lookups" in str(p)] == []
