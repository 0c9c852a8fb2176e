"""What makes each task complete: written down once (docs/architecture.md) and held to it.

A task class without a row in the document's table fails here, so a new task cannot arrive
without its rule written down; the rules of the ingest, staging, poll and enrichment tasks
are then run for real, with Luigi, on a lake under tmp_path. (DbtBuild's rule, which needs
dbt, is exercised by ``tests/dbt/test_incremental_equals_full.py``.)
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import os
import pkgutil
import re
from pathlib import Path

import luigi
import pytest

import pipeline.tasks
from pipeline.enrich import runs
from pipeline.io.atomic import write_json_atomic
from pipeline.paths import lake
from tests.conftest import FIXTURES, REPO, run_luigi

DOC = REPO / "docs" / "architecture.md"
EXPORT = FIXTURES / "exports" / "efrrowini_Streaming_History_Audio_2023_first20.json"
DAY = dt.date(2023, 2, 25)  # a day that export has plays on
SLOT = dt.datetime(2026, 11, 1, 10, 0)  # a poll slot in the past


def _section(title: str) -> str:
    """The text of one ``## title`` section of the architecture document."""
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/architecture.md has no section '## {title}'"
    return match.group(1)


def _documented_tasks() -> set[str]:
    """Task names in the first column of the completeness table."""
    return set(re.findall(r"^\| `([A-Za-z]+)\(", _section("What makes each task complete"), re.M))


def _task_classes() -> set[str]:
    """Every concrete Luigi task class defined in ``pipeline.tasks`` (not Luigi's own)."""
    found: set[str] = set()
    for info in pkgutil.iter_modules(pipeline.tasks.__path__, "pipeline.tasks."):
        module = importlib.import_module(info.name)
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, luigi.Task)
                and obj.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found.add(name)
    return found


def test_every_task_has_its_completeness_rule_documented() -> None:
    """Each task class of pipeline.tasks has a row in the table, and each row names a task."""
    tasks, documented = _task_classes(), _documented_tasks()
    assert tasks, "no task classes found"
    assert tasks - documented == set(), "tasks without a completeness rule"
    assert documented - tasks == set(), "rows for tasks that no longer exist"


def test_cited_invariants_and_tests_exist() -> None:
    """Every invariant code cites is in the document, and every test the document cites exists."""
    numbers = set(re.findall(r"^(\d+)\. \*\*", _section("Invariants"), re.M))
    assert numbers == {str(n) for n in range(1, len(numbers) + 1)}
    cited: set[str] = set()
    for folder in ("pipeline", "tests", "bench", "dbt_project", "docker"):
        for root, dirs, files in os.walk(REPO / folder):
            dirs[:] = [d for d in dirs if not d.startswith(".")]  # caches, venvs
            for name in files:
                if Path(name).suffix in {".py", ".sql", ".yml", ""}:
                    text = Path(root, name).read_text(encoding="utf-8", errors="replace")
                    cited.update(re.findall(r"docs/architecture\.md,\s+invariant (\d+)", text))
    assert cited, "no code cites an invariant any more: check the citation format"
    assert cited <= numbers, f"cited invariants missing from the document: {cited - numbers}"
    for file, name in re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", DOC.read_text(encoding="utf-8")):
        source = (REPO / file).read_text(encoding="utf-8")
        assert re.search(rf"^def {name}\(", source, re.M), f"{file}::{name} does not exist"
    for ref in re.findall(
        r"`((?:pipeline|tests|docs|config|data)/[\w/.]+\.(?:py|md|yaml))`",
        DOC.read_text(encoding="utf-8"),
    ):
        assert (REPO / ref).exists(), f"docs/architecture.md names {ref}, which does not exist"


def test_export_file_is_complete_only_when_it_exists(data_dir: Path, tmp_path: Path) -> None:
    """ExternalExportFile: a missing export is incomplete (MISSING in Luigi), a present one done."""
    from pipeline.tasks import ExternalExportFile, ImportExport

    path = tmp_path / "Streaming_History_Audio_2023_0.json"
    assert not ExternalExportFile(file=str(path)).complete()
    assert not ImportExport(file=str(path), account="me").complete()
    path.write_bytes(EXPORT.read_bytes())
    assert ExternalExportFile(file=str(path)).complete()


def test_import_and_staging_rules(data_dir: Path) -> None:
    """An import is done once its unit reads; a day once its partition matches its inputs."""
    from pipeline.tasks import ImportExport, ImportExports, StageAllPlays, StagePlays

    task = ImportExport(file=str(EXPORT), account="me")
    batch = ImportExports(files=(str(EXPORT),), account="me")
    assert not task.complete() and not batch.complete()
    assert run_luigi([task])
    assert task.complete() and batch.complete()

    # The unit lists its days, but no partition is built yet.
    assert not StagePlays(date=DAY).complete()
    assert not StageAllPlays().complete()
    assert run_luigi([StageAllPlays()])
    assert StagePlays(date=DAY).complete() and StageAllPlays().complete()

    # A partition gone makes its day, and the whole staging, incomplete again.
    lake().plays_partition(DAY).unlink()
    assert not StagePlays(date=DAY).complete()
    assert not StageAllPlays().complete()
    assert run_luigi([StagePlays(date=DAY)])
    assert StageAllPlays().complete()

    # A unit that no longer reads is not an import: it is redone from the file.
    unit = Path(task.output().path)
    unit.write_bytes(unit.read_bytes()[:100])
    assert not task.complete() and not batch.complete()
    assert run_luigi([task])
    assert task.complete()


def _poll_state(slot_outcome: dict | None, last_slot: dt.datetime | None = SLOT) -> None:
    """Write the account's poll state as IngestRecentlyPlayed leaves it."""
    from pipeline.transform.slots import slot_key

    state: dict = {"account": "me"}
    if last_slot is not None:
        state["last_slot"] = slot_key(last_slot)
    if slot_outcome is not None:
        state["slots"] = {slot_key(SLOT): slot_outcome}
    write_json_atomic(lake().spotify_state("me"), state)


def test_raw_poll_is_complete_only_when_its_file_exists(data_dir: Path) -> None:
    """RawPoll: a kept response is the poll's outside input, done when the file is in the lake."""
    from pipeline.tasks import RawPoll

    rel = "raw/spotify/recently_played/account=me/date=2026-11-01/20261101T100000000Z-me.json"
    task = RawPoll(file=rel)
    assert not task.complete()
    (lake().root / rel).parent.mkdir(parents=True)
    (lake().root / rel).write_text("{}")
    assert task.complete() and task.output().path == str(lake().root / rel)


def test_a_poll_slot_is_done_once_the_state_records_it(data_dir: Path) -> None:
    """IngestRecentlyPlayed is complete for every slot up to the state's last_slot, not after."""
    from pipeline.tasks import IngestRecentlyPlayed

    assert not IngestRecentlyPlayed(account="me", slot=SLOT).complete()
    _poll_state({"status": "ok", "days": [], "plays": 0})
    assert IngestRecentlyPlayed(account="me", slot=SLOT).complete()
    assert IngestRecentlyPlayed(account="me", slot=SLOT - dt.timedelta(hours=1)).complete()
    assert not IngestRecentlyPlayed(account="me", slot=SLOT + dt.timedelta(hours=1)).complete()
    # A state ahead of the clock (stepped back) does not silence the polls: they run again.
    future = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=2)
    _poll_state({"status": "ok"}, last_slot=future)
    assert not IngestRecentlyPlayed(account="me", slot=SLOT).complete()


@pytest.mark.parametrize(
    ("outcome", "authorised", "complete"),
    [
        (None, True, False),  # nothing recorded for the slot: its check cannot pass
        ({"status": "ok"}, True, True),
        ({"status": "error", "error": "rate_limited"}, True, True),  # Spotify said wait
        ({"status": "error", "error": "forbidden"}, True, False),
        ({"status": "error", "error": "not_authorised"}, False, True),  # polling not set up
    ],
)
def test_poll_succeeded_rule(
    data_dir: Path, outcome: dict | None, authorised: bool, complete: bool
) -> None:
    """PollSucceeded is incomplete (so FAILED when run) only for a real failure of that poll."""
    from pipeline.clients.spotify import token_path
    from pipeline.tasks import PollSucceeded

    _poll_state(outcome)
    if authorised:
        write_json_atomic(token_path("me"), {"refresh_token": "x"})
    assert PollSucceeded(account="me", slot=SLOT).complete() is complete


def test_enrichment_is_done_when_its_partitions_exist(data_dir: Path) -> None:
    """EnrichArtists is complete once the day's lookup partition exists (enrichment off here)."""
    from pipeline.tasks import EnrichArtists, ImportExport

    assert run_luigi([ImportExport(file=str(EXPORT), account="me")])
    task = EnrichArtists(date=DAY)
    assert not task.complete()
    assert run_luigi([task])
    partition = lake().dated_partition(runs.MB_ARTISTS, DAY)
    assert partition.exists() and task.complete()
    partition.unlink()
    assert not task.complete()
