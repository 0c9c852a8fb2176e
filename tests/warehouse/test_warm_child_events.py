"""dbt's log as the warm child forwards it: what dbt's console would print, in the shape the
pipeline reads, without the debug events or a secret's value."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from dbt.adapters.events.types import SQLQuery
from dbt.events.types import LogModelResult, LogStartLine, MainEncounteredError
from dbt_common.events.base_types import EventLevel, msg_from_base_event

from pipeline.warehouse.dbt_process import DbtResult, read_events
from pipeline.warehouse.warm import CHILD
from pipeline.warehouse.warm_child import QUIET_LEVELS, forward_events

NODE = {"node_name": "dim_track", "resource_type": "model"}


def _events() -> list:
    """A node's start, one of its SQL statements (debug), its result, and dbt failing."""
    return [
        msg_from_base_event(
            LogStartLine(
                description="sql table model marts.dim_track", index=3, total=10, node_info=NODE
            )
        ),
        msg_from_base_event(SQLQuery(conn_name="model.dim_track", sql="select 1", node_info=NODE)),
        msg_from_base_event(
            LogModelResult(
                description="sql table model marts.dim_track",
                status="OK",
                index=3,
                total=10,
                execution_time=0.1,
                node_info=NODE,
            ),
            level=EventLevel.INFO,
        ),
        msg_from_base_event(MainEncounteredError(exc="Database Error: disk full")),
    ]


def test_a_nodes_start_and_result_reach_the_progress_and_debug_events_stay_out() -> None:
    stream = io.StringIO()
    forward = forward_events(stream)
    for event in _events():
        forward(event)
    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["info"]["name"] for line in lines] == [
        "LogStartLine",
        "LogModelResult",
        "MainEncounteredError",
    ]
    progress: list[tuple[int, int, str]] = []
    result = DbtResult(returncode=-1)
    read_events(iter(lines), result, lambda *call: progress.append(call))
    assert progress == [(2, 10, "model 3/10: dim_track"), (3, 10, "model 3/10: dim_track")]
    assert result.errors == ["Encountered an error:\nDatabase Error: disk full"]
    assert not any("select 1" in line for line in result.lines)


def test_the_parse_before_the_command_forwards_its_errors_only() -> None:
    stream = io.StringIO()
    forward = forward_events(stream, QUIET_LEVELS)
    for event in _events():
        forward(event)
    assert [json.loads(line)["info"]["level"] for line in stream.getvalue().splitlines()] == [
        "error"
    ]


def test_a_secret_in_the_environment_is_scrubbed_from_what_is_forwarded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DBT_ENV_SECRET_TOKEN", "hunter2-token")
    stream = io.StringIO()
    forward_events(stream)(msg_from_base_event(MainEncounteredError(exc="bad token hunter2-token")))
    assert "hunter2-token" not in stream.getvalue()
    assert "*****" in json.loads(stream.getvalue())["info"]["msg"]


def test_a_command_dbt_refuses_before_logging_still_says_why(tmp_path: Path) -> None:
    """A --project-dir that does not exist is refused by dbt's argument parsing, before its
    logging starts: no event at all. The child says what dbt would have (it exited 2 in
    silence, and the pipeline's message ended "dbt build failed (exit 2): ")."""
    missing = tmp_path / "no_such_project"
    flags = ["--project-dir", str(missing), "--profiles-dir", str(missing)]
    done = subprocess.run(
        [sys.executable, "-m", CHILD, json.dumps(flags)],
        input='["build"]\n',
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    result = DbtResult(returncode=done.returncode)
    read_events(iter(done.stdout.splitlines()), result, None)
    assert result.errors and str(missing) in result.errors[0]
