"""Luigi imported without its JSON-schema support and HTTP library, which come back after."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
from pipeline.lean_luigi import import_luigi
import_luigi()
import luigi.parameter, luigi.rpc
print("during", "jsonschema" in sys.modules, luigi.parameter._JSONSCHEMA_ENABLED)
print("during", "requests" in sys.modules, luigi.rpc.HAS_REQUESTS)
import jsonschema, requests
print("after", jsonschema.Draft4Validator.__name__, requests.Session.__name__)
"""


def test_luigi_loads_without_jsonschema_or_requests_and_both_still_import_after() -> None:
    """A command's start skips both (~125 ms of a ~0.4 s no-op cycle); the worker talks to
    luigid over urllib (tests/ops/test_luigid.py runs commands against a real luigid), and the
    HTTP clients and dbt still get the real modules."""
    result = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "during False False",
        "during False False",
        "after Draft4Validator Session",
    ]


def test_an_http_library_already_loaded_is_kept() -> None:
    """A process that loaded ``requests`` first (a test, an embedding) keeps it: Luigi uses it."""
    code = (
        "import requests, sys\n"
        "from pipeline.lean_luigi import import_luigi\n"
        "import_luigi()\n"
        "import luigi.rpc\n"
        "print(sys.modules['requests'] is requests, luigi.rpc.HAS_REQUESTS)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]
