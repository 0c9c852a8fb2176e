"""Import Luigi without its optional JSON-schema support: ~50 ms of every command's start.

``luigi.parameter`` imports ``jsonschema`` when it is installed (dbt brings it) only to validate
a ``DictParameter``/``ListParameter`` given a ``schema=``, which no task here declares. Loading
it is a fifth of Luigi's import and a tenth of a no-op cycle (0.5 s target, issue 11). So the
command line imports Luigi while ``jsonschema`` looks absent, then un-hides it: a later
``import jsonschema`` (dbt's, a test's) loads it normally. ``luigi``'s own command line and
``luigid`` import Luigi themselves and keep the validation.
"""

from __future__ import annotations

import sys

#: The optional import Luigi does without: ``luigi.parameter`` sets ``_JSONSCHEMA_ENABLED``.
HIDDEN = "jsonschema"


def import_luigi() -> None:
    """Import ``luigi`` with ``jsonschema`` hidden, unless either is already loaded."""
    if "luigi" in sys.modules or HIDDEN in sys.modules:
        return
    sys.modules[HIDDEN] = None  # type: ignore[assignment]  # import system: "not installed"
    try:
        import luigi  # noqa: F401
    finally:
        del sys.modules[HIDDEN]
