"""Import Luigi without its optional JSON-schema support and HTTP library: ~125 ms of every
command's start.

``luigi.parameter`` imports ``jsonschema`` when it is installed (dbt brings it) only to validate
a ``DictParameter``/``ListParameter`` given a ``schema=``, which no task here declares (~50 ms).
``luigi.rpc`` imports ``requests`` (or ``requests_unixsocket``) when installed to talk to luigid,
and uses the standard library's ``urllib`` otherwise (~75 ms: requests, urllib3, charset
detection). Together they were a quarter of a no-op cycle (0.5 s target, issue 11). So the
command line imports Luigi while those look absent, then un-hides them: a later ``import
requests`` (the HTTP clients', when a cycle has work) or ``import jsonschema`` (dbt's, a test's)
loads them normally. The command's worker then reaches luigid over ``urllib`` (an ``http://``
scheduler URL, the only kind ``scheduler.url`` takes). ``luigi``'s own command line and
``luigid`` import Luigi themselves and keep both.
"""

from __future__ import annotations

import sys

#: The optional imports Luigi does without (``luigi.parameter``: ``_JSONSCHEMA_ENABLED``;
#: ``luigi.rpc``: ``HAS_REQUESTS``).
HIDDEN = ("jsonschema", "requests_unixsocket", "requests")


def import_luigi() -> None:
    """Import ``luigi`` with the ``HIDDEN`` modules hidden, unless Luigi is already loaded;
    a hidden module already loaded stays loaded (and Luigi uses it)."""
    if "luigi" in sys.modules:
        return
    hidden = [name for name in HIDDEN if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # import system: "not installed"
    try:
        import luigi  # noqa: F401
    finally:
        for name in hidden:
            del sys.modules[name]
