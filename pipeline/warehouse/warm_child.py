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

Exit codes are dbt's own: 0 success, 1 a node failed, 2 dbt itself failed.
"""

from __future__ import annotations

import json
import os
import sys


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


def main(argv: list[str]) -> int:
    """Parse, wait for the command, run it; the exit code."""
    shared: list[str] = json.loads(argv[0])
    lock_context()
    from dbt.artifacts.schemas.run import RunExecutionResult
    from dbt.cli.main import dbtRunner
    from dbt.contracts.graph.manifest import Manifest

    parsed = dbtRunner().invoke(["parse", "--quiet", "--no-write-json", *shared])
    # A failed parse leaves no manifest: the command parses again and says what failed.
    manifest = parsed.result if isinstance(parsed.result, Manifest) else None
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    command: list[str] = json.loads(line)
    quiet_artifacts = command[:1] == ["build"]  # other commands' artifacts are what is asked
    flags = ["--no-write-json"] if quiet_artifacts else []
    result = dbtRunner(manifest=manifest).invoke([*command, *flags, *shared])
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
