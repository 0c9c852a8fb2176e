"""dbt's interpreter for one command, parsed before the command is known (``warm``).

Run as ``python -m pipeline.warehouse.warm_child '<json: shared dbt flags>'``: imports dbt and
parses the project with those flags (the manifest), then reads one line from stdin, the dbt
command as a JSON list, and runs it on that manifest. An empty line or end of input ends the
process without running anything. The process ends with ``os._exit``: nothing is left to tear
down that the kernel does not free, and dbt's interpreter teardown took ~0.5 s.

The parse and a ``build`` run with ``--no-write-json`` and the child writes the build's
``run_results.json`` itself: dbt would also write ``manifest.json`` and
``semantic_manifest.json`` (1.9 MB of JSON) after each, files the pipeline never reads. Written
after the parse, they were ~0.3 s of a cycle's critical path (the build waits for the parse);
after the build, ~0.4 s. ``partial_parse.msgpack``, what the next parse starts from, is still
written. Any other command (``source freshness``, ``docs generate``) writes its artifacts as
dbt does: they are what it is run for.

The command's log reaches the parent as dbt's JSON lines would (``dbt_process.read_events``),
but written here (``forward_events``, a dbt callback) with dbt's console logger off
(``--log-level none``): dbt's console logger turns every event into JSON before its level is
checked, the ~20 debug events a node fires (each SQL statement, each connection step) included,
to drop all but ~3 of them: ~0.6 s of CPU in a 1M-play cycle's build, ~0.25 s in its parse.

Exit codes are dbt's own: 0 success, 1 a node failed, 2 dbt itself failed.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

#: The event levels dbt prints at ``--log-level info``, the ones a command forwards.
PRINTED_LEVELS = frozenset({"info", "warn", "error"})
#: What the parse before the command forwards (it ran ``--quiet``: its errors only).
QUIET_LEVELS = frozenset({"error"})
#: The event data fields the parent reads (``dbt_process.read_events``: a node's place in the
#: run and its name), the rest left out.
DATA_FIELDS = ("index", "total", "num_models", "resource_type", "node_name", "description")


def lock_context() -> None:
    """Give dbt's locks the ``fork`` multiprocessing context instead of ``spawn``.

    dbt makes its manifest's and connections' locks from a ``spawn`` context, whose semaphores
    are registered with multiprocessing's resource tracker: a third interpreter (~7 MB PSS,
    ~50 ms of CPU) started beside every build, only to unlink them at exit. dbt runs its nodes
    on threads, never in other processes, so a ``fork`` context's locks (unnamed, no tracker)
    do the same job here. Set before dbt imports anything that makes one.
    """
    import multiprocessing

    import dbt.mp_context

    if hasattr(dbt.mp_context, "_MP_CONTEXT"):  # dbt-core 1.11; elsewhere leave dbt as it is
        dbt.mp_context._MP_CONTEXT = multiprocessing.get_context("fork")  # type: ignore[assignment]


def forward_events(
    stream: TextIO, levels: frozenset[str] = PRINTED_LEVELS, errors: list[str] | None = None
) -> Callable[[Any], None]:
    """A dbt callback writing each event of ``levels`` (by default those dbt prints at its
    ``--log-level info``) to ``stream`` as a JSON line shaped like dbt's own (``info``: name,
    msg, level; ``data``: ``DATA_FIELDS`` and the node's name and type), its message scrubbed
    of secrets as dbt's loggers scrub theirs. Error events' names are appended to ``errors``.

    dbt calls it from the thread that fired the event (a node's worker): one line at a time.
    """
    lock = threading.Lock()

    def forward(msg: Any) -> None:
        info = msg.info
        if info.level not in levels:
            return
        if errors is not None and info.level == "error":
            errors.append(info.name)
        data: dict[str, Any] = {}
        for name in DATA_FIELDS:
            value = getattr(msg.data, name, None)  # a field this event does not have: None
            if value not in (None, ""):
                data[name] = value
        node = getattr(msg.data, "node_info", None)
        if node is not None and node.node_name:
            data["node_info"] = {"node_name": node.node_name, "resource_type": node.resource_type}
        with lock:
            write_event(stream, info.name, info.level, info.msg, data)

    return forward


def write_event(
    stream: TextIO, name: str, level: str, message: str, data: dict[str, Any] | None = None
) -> None:
    """One event as a JSON line in dbt's shape (``info``: name, level, msg; ``data``), its
    message scrubbed of secrets as dbt's loggers scrub theirs."""
    from dbt_common.events.functions import env_scrubber

    info = {"name": name, "level": level, "msg": env_scrubber(message)}
    stream.write(json.dumps({"info": info, "data": data or {}}) + "\n")
    stream.flush()


def main(argv: list[str]) -> int:
    """Parse, wait for the command, run it; the exit code."""
    shared: list[str] = json.loads(argv[0])
    lock_context()
    from dbt.artifacts.schemas.run import RunExecutionResult
    from dbt.cli.main import dbtRunner
    from dbt.contracts.graph.manifest import Manifest

    quiet = forward_events(sys.stdout, QUIET_LEVELS)
    parsed = dbtRunner(callbacks=[quiet]).invoke(
        ["parse", "--no-write-json", *shared, "--log-level", "none"]
    )
    # A failed parse leaves no manifest: the command parses again and says what failed.
    manifest = parsed.result if isinstance(parsed.result, Manifest) else None
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    command: list[str] = json.loads(line)
    quiet_artifacts = command[:1] == ["build"]  # other commands' artifacts are what is asked
    flags = ["--no-write-json"] if quiet_artifacts else []
    errors: list[str] = []
    runner = dbtRunner(manifest=manifest, callbacks=[forward_events(sys.stdout, errors=errors)])
    # dbt's console logger off: forward_events prints what it would have.
    result = runner.invoke([*command, *flags, *shared, "--log-level", "none"])
    if result.exception is not None and not errors:
        # Refused before dbt's logging starts (a --project-dir that does not exist is a click
        # usage error): dbt fires no event, so say what it would have printed.
        write_event(
            sys.stdout,
            "MainEncounteredError",
            "error",
            f"Encountered an error:\n{result.exception}",
        )
    if quiet_artifacts and isinstance(result.result, RunExecutionResult):  # a failed one's too
        target = shared[shared.index("--target-path") + 1]
        result.result.write(os.path.join(target, "run_results.json"))
    if result.success:
        return 0
    return 2 if result.exception is not None else 1


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
