"""Luigi imported without its JSON-schema support, which comes back for everyone after."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
from pipeline.lean_luigi import import_luigi
import_luigi()
import luigi.parameter
print("during", "jsonschema" in sys.modules, luigi.parameter._JSONSCHEMA_ENABLED)
import jsonschema
print("after", jsonschema.Draft4Validator.__name__)
"""


def test_luigi_loads_without_jsonschema_and_jsonschema_still_imports_after() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["during False False", "after Draft4Validator"]
