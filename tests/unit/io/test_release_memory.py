"""What survives a task's memory release is frozen out of later collections, in a command's
process only: the command line asks for it, library use (these tests' workers) never does."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from pipeline.settings import PROJECT_ROOT

SCRIPT = textwrap.dedent(
    """
    import gc, json, time
    from pipeline.io.duck import freeze_survivors, release_memory

    junk = [[n, None] for n in range(200_000)]  # lists: always tracked by the GC
    release_memory()
    library = gc.get_freeze_count()
    freeze_survivors()  # what `music-tracker` does at its start
    release_memory()
    frozen = gc.get_freeze_count()
    start = time.perf_counter()
    gc.collect()
    print(json.dumps({"library": library, "frozen": frozen,
                      "collect_ms": (time.perf_counter() - start) * 1000}))
    """
)


def test_a_command_freezes_what_survives_and_later_collections_skip_it() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = json.loads(out)
    assert result["library"] == 0  # without the command line's say-so, nothing is frozen
    assert result["frozen"] > 200_000  # the survivors, the 200,000 lists among them
    assert result["collect_ms"] < 5  # a full walk of them took ~20-45 ms in a build
