"""What Luigi shows of a run, without dbt: missing inputs, failed polls, progress, reruns."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import luigi
import pytest

from tests.conftest import FIXTURES, REPO, child_env
from tests.faults.http_faults import ok
from tests.faults.http_faults import write_cassette as cassette_file
from tests.faults.test_service_faults import (
    JAVA,
    RECENTLY_PLAYED,
    faulty_services,
    player,
    poll_interaction,
    polled_ids,
    slot,
    staged_ids,
)
from tests.faults.test_service_faults import lake_dir as lake_dir  # noqa: F401 - fixture
from tests.spotify_support import write_token

HL105 = FIXTURES / "exports" / "hl105_StreamingHistory_music_0_first60.json"
AVERY = FIXTURES / "exports" / "averydata_StreamingHistory0_first40.json"


def test_missing_export_file_is_missing_with_its_path(data_dir: Path, tmp_path: Path) -> None:
    """ImportExport of a file that is not there: a missing external input named by its path."""
    from pipeline.runner import run_luigi
    from pipeline.tasks import ImportExport

    gone = tmp_path / "Streaming_History_Audio_gone.json"
    outcome = run_luigi([ImportExport(file=str(gone), account="me")])
    assert outcome.code == 20  # [retcode] missing_data, not an error inside complete()
    assert f"ExternalExportFile(file={gone})" in outcome.summary
    assert "missing external dependencies" in outcome.summary


def test_unauthorised_poll_fails_for_that_account_only(
    lake_dir: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """An account whose token is unusable is a FAILED PollSucceeded; the other account lands."""
    from pipeline.runner import run_luigi
    from pipeline.tasks import PollRecentlyPlayed

    write_token("me").write_text("{ truncated")  # authorised once, the cache is now broken
    write_token("partner")
    cassette = cassette_file(
        tmp_path / "poll.yaml", [poll_interaction("partner", ok(RECENTLY_PLAYED, JAVA))]
    )
    poll = PollRecentlyPlayed(slot=slot(0))
    base = ("method", "scheme", "host", "port", "path", "query", "authorization")
    with faulty_services(cassette, player("faults", match_account=True), match_on=base):
        landed = run_luigi([poll])
        checked = run_luigi(poll.checks())
    assert landed.code == 0
    assert polled_ids(lake_dir, "partner") and polled_ids(lake_dir, "partner") <= staged_ids(
        lake_dir
    )
    assert checked.code == 30  # [retcode] task_failed
    failed = dict(checked.failures)
    assert len(failed) == 1
    ((task_id, message),) = failed.items()
    assert task_id.startswith("PollSucceeded") and "not_authorised" in message
    assert "music-tracker auth me" in message


def test_deleted_raw_poll_is_missing_with_its_path(
    lake_dir: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A kept response gone before it is landed: the poll is MISSING its RawPoll, path named."""
    import pipeline.ingest.polls as polls
    from pipeline.runner import run_luigi
    from pipeline.tasks import IngestRecentlyPlayed

    kept: list[Path] = []
    real_write = polls.write_bytes_atomic

    def write_then_lose(path: Path, data: bytes) -> None:
        real_write(path, data)
        kept.append(path)
        path.unlink()  # a disk cleaner, a bad restore: the raw file is gone before landing

    monkeypatch.setattr(polls, "write_bytes_atomic", write_then_lose)
    write_token("me")
    cassette = cassette_file(
        tmp_path / "poll.yaml", [poll_interaction("me", ok(RECENTLY_PLAYED, JAVA))]
    )
    base = ("method", "scheme", "host", "port", "path", "query", "authorization")
    task = IngestRecentlyPlayed(account="me", slot=slot(0))
    with faulty_services(cassette, player("faults", match_account=True), match_on=base):
        outcome = run_luigi([task])
    (raw,) = kept
    # Not an error inside run(): the landing waits on its input, which Luigi lists as missing.
    # The exit is [retcode] not_run (25), which outranks missing_data (20): Luigi also counts
    # the poll, suspended on a requirement it yielded, as not granted run permission.
    assert outcome.code == 25 and not outcome.failures
    missing = outcome.summary.split("missing external dependencies:", 1)[1]
    assert f"RawPoll(file={raw.relative_to(lake_dir)})" in missing.split("* ", 1)[0]
    assert not polled_ids(lake_dir, "me") and not task.complete()  # nothing landed, polls again


def test_never_authorised_account_is_not_a_failed_poll(data_dir: Path) -> None:
    """An account with no token cache at all (export-only household) fails no run."""
    from pipeline.runner import run_luigi
    from pipeline.tasks import PollRecentlyPlayed

    poll = PollRecentlyPlayed(slot=slot(0))
    assert run_luigi([poll]).code == 0
    assert run_luigi(poll.checks()).code == 0


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _progress_events(task: luigi.Task) -> None:
    from pipeline.tasks.base import report_progress

    task.trigger_event(luigi.Event.START, task)
    report_progress(task, 40, "month 2019-04 (2/5)")


def test_progress_bar_at_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """At a terminal one bar shows the running task, its percentage and its message."""
    from pipeline import progress
    from pipeline.tasks import StageAllPlays

    screen = _Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    with progress.bar():
        _progress_events(StageAllPlays())
    shown = screen.getvalue()
    assert "StageAllPlays" in shown and "40%" in shown and "month 2019-04 (2/5)" in shown


def test_no_progress_output_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Piped or under cron, the bar writes nothing (no bar, no JSON lines)."""
    from pipeline import progress
    from pipeline.tasks import StageAllPlays

    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    with progress.bar():
        _progress_events(StageAllPlays())
    assert piped.getvalue() == ""


def test_import_and_staging_report_progress(data_dir: Path) -> None:
    """ImportExports reports each file, StageAllPlays each month, as the visualiser shows."""
    from pipeline.runner import run_luigi
    from pipeline.tasks import ImportExports, StageAllPlays

    seen: list[tuple[str, int, str]] = []

    def record(task: luigi.Task, percent: int, message: str) -> None:
        seen.append((task.get_task_family(), percent, message))

    luigi.Task.event_handler(luigi.Event.PROGRESS)(record)
    try:
        files = (str(HL105), str(AVERY))
        assert run_luigi([ImportExports(files=files, account="me")]).code == 0
        assert run_luigi([StageAllPlays()]).code == 0
    finally:
        luigi.Task._event_callbacks[luigi.Task][luigi.Event.PROGRESS].discard(record)
    imports = [s for s in seen if s[0] == "ImportExports"]
    assert [p for _, p, _ in imports] == [0, 50, 100]
    assert imports[-1][2].startswith("file 2/2: ")
    months = [m for f, _, m in seen if f == "StageAllPlays" and m.startswith("month ")]
    # averydata: 2020-09, 2021-01, 2021-03, 2021-04, 2021-05; hl105: 2023-01.
    assert months[0] == "month 2020-09 (1/6)" and months[-1] == "month 2023-01 (6/6)"


def test_rerun_runs_a_finished_task_again(data_dir: Path) -> None:
    """`music-tracker rerun StagePlays --date D` rewrites a done partition; bad names fail."""
    from pipeline.runner import run_luigi
    from pipeline.tasks import ImportExport, StagePlays

    assert run_luigi([ImportExport(file=str(HL105), account="me"), StagePlays(date=_d())]).code == 0
    part = data_dir / "staged" / "plays" / "v1" / "date=2023-01-28" / "part-0.parquet"
    before = (os.stat(part).st_ino, os.stat(part).st_mtime_ns)
    env = child_env(data_dir)
    cli = [shutil.which("music-tracker") or sys.executable, "rerun"]
    if cli[0] == sys.executable:
        cli = [sys.executable, "-m", "pipeline.cli", "rerun"]
    again = subprocess.run(
        [*cli, "StagePlays", "--date", "2023-01-28"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert "StagePlays(date=2023-01-28): done" in again.stdout
    assert "%|" not in again.stderr  # piped: no progress bar
    # Written again (atomic replace: a new file); an inode alone can be reused, so mtime too.
    assert (os.stat(part).st_ino, os.stat(part).st_mtime_ns) != before
    unknown = subprocess.run(
        [*cli, "StagePlay", "--date", "2023-01-28"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert unknown.returncode == 2
    assert "no task named 'StagePlay'" in unknown.stderr and "StagePlays" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def _d():
    import datetime as dt

    return dt.date(2023, 1, 28)


def test_a_command_at_a_terminal_shows_the_bar(data_dir: Path) -> None:
    """`music-tracker rerun StageAllPlays` on a pty draws the bar with the months staged."""
    import pty
    import select

    from pipeline.runner import run_luigi
    from pipeline.tasks import ImportExport

    assert run_luigi([ImportExport(file=str(AVERY), account="me")]).code == 0
    env = child_env(data_dir)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "rerun", "StageAllPlays"],
        env=env,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    screen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the pty
            break
        if not chunk:
            break
        screen += chunk
    out, _ = proc.communicate(timeout=120)
    os.close(master)
    assert proc.returncode == 0, screen.decode(errors="replace")[-2000:]
    text = screen.decode(errors="replace")
    assert "%|" in text and "StageAllPlays: month 2021-05 (5/5)" in text
    assert '{"ts"' not in text  # text log lines at a terminal, no JSON


def test_cron_poll_checks_each_account_after_the_build(data_dir: Path) -> None:
    """`cron poll` ends with one PollSucceeded per account, after DailyPipeline (never before)."""
    import datetime as dt

    from pipeline.commands.cron import job_phases

    phases = job_phases("poll", dt.datetime(2026, 11, 25, 10, 5, tzinfo=dt.UTC))
    families = [[t.task_family for t in phase] for phase in phases]
    assert families[-2] == ["DailyPipeline"]
    assert families[-1] == ["PollSucceeded", "PollSucceeded"]
    assert sorted(t.account for t in phases[-1]) == ["me", "partner"]
