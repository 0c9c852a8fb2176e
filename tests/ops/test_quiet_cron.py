"""A cron run with nothing new reads no Parquet: what most of a day's 48 runs are."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from pipeline.ops.notify import GAP_FILE_SLACK_S
from tests.conftest import FIXTURES, run_luigi
from tests.ops.conftest import cli_env, run_python

EXPORT = FIXTURES / "exports" / "efrrowini_Streaming_History_Audio_2023_first20.json"
HEAVY = ("pyarrow", "polars", "duckdb", "dbt", "requests")


def _quiet_poll(lake: Path) -> list[str]:
    """``music-tracker cron poll`` with polling off, in a fresh interpreter: the heavy modules
    it loaded."""
    code = (
        "import atexit, sys\n"
        f"heavy = {HEAVY!r}\n"
        "atexit.register(lambda: print('LOADED', *[m for m in heavy if m in sys.modules]))\n"
        "from pipeline.cli import main\n"
        f"sys.exit(main(['--data-dir', {str(lake)!r}, 'cron', 'poll']))\n"
    )
    env = cli_env(
        lake,
        MUSIC_TRACKER__SPOTIFY__ENABLED="false",
        MUSIC_TRACKER__CRON__CENTRAL_SCHEDULER="false",
    )
    result = run_python(["-c", code], env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return [line for line in result.stdout.splitlines() if line.startswith("LOADED")]


def test_a_quiet_cron_poll_reads_no_play_file(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each cron run ends with its notifications: every account's last play (from the last
    days' plays and polls) and the gaps found since the last run. With plays polled yesterday
    and nothing new since, the second run answers both from what the first remembered and
    from file times: no Parquet read, no Arrow loaded (~30 MB, ~0.1 s each time)."""
    from bench.poll import poll_cassette, poll_env
    from pipeline import settings
    from pipeline.tasks import ImportExport, StageAllPlays

    for key, value in poll_env().items():
        monkeypatch.setenv(key, value)
    settings.reload_settings()
    assert run_luigi([ImportExport(file=str(EXPORT), account="me"), StageAllPlays()])
    yesterday = dt.datetime.combine(
        dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC
    )
    poll_cassette(data_dir, 1, tmp_path / "cassettes", yesterday)  # a full page: a gap too
    # Cron runs are 30 minutes apart: the poll's gap file is older than the next run's check
    # by more than the file times' slack.
    time.sleep(GAP_FILE_SLACK_S + 0.5)

    _quiet_poll(data_dir)  # builds what the poll staged, sends the gap, and remembers
    assert _quiet_poll(data_dir) == ["LOADED"]
    memo = (data_dir / "state/last_plays.json").read_text(encoding="utf-8")
    assert "date=" + yesterday.date().isoformat() in memo  # it did look at yesterday's plays
