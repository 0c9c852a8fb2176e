"""Commands fail as a user expects: unknown account, nothing importable, reruns, cron from cron."""

from __future__ import annotations

import datetime as dt
import json
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.ops.conftest import cli_env, run_cli

EXPORT = Path(__file__).parents[1] / "fixtures/exports/candidlyred_endsong_first24.json"


def test_unknown_account_is_one_line_listing_the_configured_ones(data_dir: Path) -> None:
    """`import --account bob` says which accounts exist, in one line, without a traceback."""
    result = run_cli(["import", str(EXPORT), "--account", "bob"], cli_env(data_dir))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: no account named 'bob' in config (configured accounts: me, partner)"
    ]
    assert not (data_dir / "raw").exists()  # nothing was imported


@pytest.mark.parametrize(
    "command",
    [["build", "--date", "9999-12-31"], ["rerun", "DbtBuild", "--date", "9999-12-31"]],
)
def test_a_day_in_the_future_is_refused_in_one_line(data_dir: Path, command: list[str]) -> None:
    """`build --date 9999-12-31` says the day is in the future (exit 2); it was a traceback in
    Luigi's run summary and exit 40. Tomorrow (UTC) is still a day: UTC+14 is there already."""
    result = run_cli(command, cli_env(data_dir))
    assert result.returncode == 2, result.stderr
    assert "9999-12-31 is in the future" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (data_dir / "warehouse").exists()


def test_tomorrow_is_a_day_and_the_day_after_is_not() -> None:
    """The rule at its edge (UTC+14 is a day ahead of UTC)."""
    from pipeline.transform.slots import future_day_problem

    now = dt.datetime(2026, 12, 7, 23, 59, tzinfo=dt.UTC)
    assert future_day_problem(dt.date(2026, 12, 8), now) is None
    assert "is in the future" in (future_day_problem(dt.date(2026, 12, 9), now) or "")


def test_import_of_a_device_or_a_pipe_is_refused(data_dir: Path, tmp_path: Path) -> None:
    """`import /dev/zero` read until killed, and a named pipe blocks: both are refused at once."""
    import os

    pipe = tmp_path / "Streaming_History_Audio_2024_0.json"
    os.mkfifo(pipe, 0o600)
    for path in ("/dev/zero", str(pipe)):
        result = run_cli(["import", path], cli_env(data_dir), timeout=60)
        assert result.returncode == 2, result.stderr
        assert f"not a file or folder (a device, pipe or socket): {path}" in result.stderr
    assert not (data_dir / "raw").exists()


def test_import_of_nothing_importable_exits_non_zero_without_a_build(
    data_dir: Path, tmp_path: Path
) -> None:
    """Only non-export JSON: exit 4 with the per-file reason, and no dbt build."""
    other = tmp_path / "settings.json"
    other.write_text(json.dumps({"theme": "dark", "volume": 7}))
    result = run_cli(["import", str(other)], cli_env(data_dir), timeout=120)
    assert result.returncode == 4, result.stdout + result.stderr
    assert "quarantined:" in result.stdout and "settings.json" in result.stdout
    assert "nothing was imported" in result.stderr
    assert not (data_dir / "warehouse/build.duckdb").exists()
    assert not (data_dir / "staged/dbt_runs").exists()


@pytest.mark.slow
def _log_times(log: Path, skip: int = 0) -> tuple[list[float], list[float]]:
    """From the lake's JSON log, after its first ``skip`` lines: when dbt was started ahead,
    and when each of the build's input tasks (run by the stage child) ended."""
    starts: list[float] = []
    inputs: list[float] = []
    for line in log.read_text(encoding="utf-8").splitlines()[skip:]:
        record = json.loads(line)
        when = dt.datetime.fromisoformat(record["ts"].replace("Z", "+00:00")).timestamp()
        if record["msg"].startswith("dbt started ahead of its command"):
            starts.append(when)
        elif record["msg"].startswith(("task=EnrichCatalogue", "task=EnrichArtists")):
            inputs.append(when)
    return starts, inputs


def test_import_ends_with_the_summary_and_a_rerun_says_zero_new(data_dir: Path) -> None:
    """Every import prints what was built; importing the same file again adds 0 new plays.

    dbt starts while the import's child is still enriching (its word that the plays are
    staged), once, and that is the dbt the build uses; a rerun with nothing new starts none."""
    env = cli_env(data_dir, MUSIC_TRACKER__LOGGING__LEVEL="DEBUG")
    first = run_cli(["import", str(EXPORT)], env)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "What was built" in first.stdout and "plays:" in first.stdout
    new_first = int(first.stdout.split(" new plays")[0].rsplit(": ", 1)[1].replace(",", ""))
    assert new_first > 0
    log = data_dir / "logs/pipeline.log"
    starts, inputs = _log_times(log)
    assert len(starts) == 1 and inputs and starts[0] < max(inputs), (starts, inputs)
    seen = len(log.read_text(encoding="utf-8").splitlines())
    again = run_cli(["import", str(EXPORT)], env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "1 file(s): 0 new plays" in again.stdout
    assert "already imported" in again.stdout
    assert "What was built" in again.stdout
    assert _log_times(log, seen)[0] == []


def _cron_lines(data_dir: Path) -> tuple[dict[str, str], list[str]]:
    result = run_cli(["cron", "crontab"], cli_env(data_dir))
    assert result.returncode == 0, result.stderr
    env: dict[str, str] = {}
    jobs: list[str] = []
    for line in result.stdout.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if "=" in line.split()[0] and not line[0].isdigit() and not line.startswith("*"):
            key, value = line.split("=", 1)
            env[key] = value
        else:
            jobs.append(line)
    return env, jobs


def test_crontab_lines_name_program_data_and_log(data_dir: Path) -> None:
    """Each crontab line has the program's absolute path, --data-dir and a log file."""
    _env, jobs = _cron_lines(data_dir)
    assert [j.split()[:5] for j in jobs] == [
        ["*/30", "*", "*", "*", "*"],
        ["30", "4", "*", "*", "*"],
    ]
    for job in jobs:
        command = shlex.split(" ".join(job.split()[5:]))
        program = command[command.index("&&") + 1]
        assert Path(program).is_absolute() and Path(program).exists()
        assert command[command.index("--data-dir") + 1] == str(data_dir)
        assert command[-3:] == [">>", str(data_dir / "logs/cron.log"), "2>&1"]


def test_crontab_poll_line_runs_under_cron_environment(data_dir: Path) -> None:
    """The poll line runs under `env -i` with cron's PATH and writes to its log file."""
    env, jobs = _cron_lines(data_dir)
    command = " ".join(jobs[0].split()[5:]).replace("\\%", "%")
    cron_env = {"PATH": "/usr/bin:/bin", "HOME": str(data_dir), "SHELL": "/bin/sh", **env}
    result = subprocess.run(
        ["env", "-i", *(f"{k}={v}" for k, v in cron_env.items()), "/bin/sh", "-c", command],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    log = (data_dir / "logs/cron.log").read_text()
    assert "cron poll [" in log and "exit 0" in log
    assert (data_dir / "state/spotify/me.json").exists()  # it polled this lake (no token here)


def test_cron_poll_without_credentials_starts_no_build(data_dir: Path) -> None:
    """Nothing polled (no token, no app credentials) and nothing new: no staging, no dbt."""
    result = run_cli(["cron", "poll"], cli_env(data_dir))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "no new plays polled; nothing to build" in result.stdout
    assert not (data_dir / "warehouse/build.duckdb").exists()
    assert not (data_dir / "staged/plays").exists()
    state = json.loads((data_dir / "state/spotify/me.json").read_text())
    assert state["last_error"]["kind"] in ("not_authorised", "config")


def test_poll_state_ahead_of_the_clock_is_recovered(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A last slot later than the clock (clock stepped back) is logged and polled again."""
    from pipeline.ingest.slots import slot_handled, slot_of
    from pipeline.io.atomic import write_json_atomic
    from pipeline.tasks import IngestRecentlyPlayed
    from pipeline.transform.slots import slot_key

    now = dt.datetime(2026, 12, 2, 10, 7, tzinfo=dt.UTC)
    slot = slot_of(now)
    assert slot_handled("2026-12-02T10:00", slot, now)
    assert not slot_handled("2026-12-02T09:30", slot, now)
    assert slot_handled("2026-12-02T10:00", slot_of(now - dt.timedelta(hours=1)), now)
    with caplog.at_level("WARNING"):
        assert not slot_handled("2027-06-01T12:00", slot, now)
    assert "ahead of the clock" in caplog.text
    later = slot_of(now + dt.timedelta(hours=2))  # a task run by hand for a future slot
    assert slot_handled(slot_key(later), later, now)  # done once it ran, not polled forever
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    write_json_atomic(data_dir / "state/spotify/me.json", {"account": "me", "last_slot": future})
    assert not IngestRecentlyPlayed(account="me").complete()  # today's poll runs again


def test_cron_poll_builds_only_what_is_unbuilt(data_dir: Path) -> None:
    """An import not built yet is "something new" for `cron poll`; once built, it is not."""
    import os

    from pipeline.commands.cron import unbuilt_inputs
    from pipeline.io.atomic import write_json_atomic
    from pipeline.tasks import ImportExport
    from tests.conftest import run_luigi

    assert not unbuilt_inputs()  # empty lake: nothing to build
    assert run_luigi([ImportExport(file=str(EXPORT), account="me")])
    assert unbuilt_inputs()
    marker = data_dir / f"staged/dbt_runs/date={dt.date.today()}/run_results.json"
    write_json_atomic(marker, {"status": "success", "results": []})
    assert not unbuilt_inputs()
    unit = next((data_dir / "staged/imports").rglob("*.parquet"))
    later = marker.stat().st_mtime_ns + 10**9
    os.utime(unit, ns=(later, later))  # the unit rewritten after the build
    assert unbuilt_inputs()


def test_no_json_log_lines_at_a_terminal(data_dir: Path, tmp_path: Path) -> None:
    """At a terminal the log lines are text, never JSON (the log file keeps JSON lines)."""
    import os
    import pty
    import sys

    from tests.ops.conftest import REPO

    other = tmp_path / "settings.json"
    other.write_text(json.dumps({"theme": "dark"}))
    pid, fd = pty.fork()
    if pid == 0:  # the child: a user's shell running the command
        os.chdir(REPO)
        os.execve(
            sys.executable,
            [sys.executable, "-m", "pipeline.cli", "import", str(other)],
            cli_env(data_dir),
        )
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    _, wait_status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(wait_status) == 4, text
    assert "task=ImportExports" in text  # a log line was shown ...
    assert not [line for line in text.splitlines() if line.lstrip().startswith("{")]  # as text
    log = (data_dir / "logs/pipeline.log").read_text().splitlines()
    assert log and all(json.loads(line)["msg"] for line in log)


def test_polling_switched_off_polls_nobody(data_dir: Path) -> None:
    """spotify.enabled: false: `cron poll` calls no API, writes no poll state, builds nothing."""
    result = run_cli(["cron", "poll"], cli_env(data_dir, MUSIC_TRACKER__SPOTIFY__ENABLED="false"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "nothing to build" in result.stdout
    assert not (data_dir / "state/spotify").exists()


def test_account_with_poll_false_is_not_polled(data_dir: Path, monkeypatch) -> None:
    """accounts[].poll: false leaves that listener out of the cycle's polls."""
    from pipeline import settings
    from pipeline.tasks import PollRecentlyPlayed

    monkeypatch.setenv(
        "MUSIC_TRACKER__ACCOUNTS",
        "[{name: me, timezone: Europe/Berlin},"
        " {name: partner, timezone: America/New_York, poll: false}]",
    )
    settings.reload_settings()
    assert [t.account for t in PollRecentlyPlayed().requires()] == ["me"]
