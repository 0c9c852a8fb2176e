"""Sizes written as text in settings ("192MiB"), parsed the way the tool that reads them does.

Here rather than beside Metabase: ``MetabaseSettings`` checks its DuckDB memory cap when the
section is read (``validate_sections()`` at start-up), which must not import the Metabase client.
"""

from __future__ import annotations

import re

_MEMORY = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B)\s*", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12}
_UNITS.update({"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40})


def memory_bytes(value: str) -> int:
    """Bytes of a DuckDB memory setting ("192MiB", "256MB"): DuckDB reads MB as 10^6, MiB 2^20.

    The compose test adds this to the JVM's caps, so both must agree on what the string means.
    """
    match = _MEMORY.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not a DuckDB memory size such as 192MiB")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])
