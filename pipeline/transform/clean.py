"""Values out of untyped JSON, as the lake's Arrow types can hold them, or None.

Enrichment answers (Spotify's catalogue, MusicBrainz, Nominatim, or a self-hosted mirror of
any of them) are read field by field into lookup rows. A field of the wrong type (a name that is
a list, a count past 64 bits, ``NaN``, a string holding a lone surrogate escape such as
``"\\ud800"``, which Python decodes and Parquet cannot write) must not fail the whole run at
every retry: each reader here returns the value in the column's type, or None for a value no
real answer holds. The raw answer stays in ``raw/`` either way.
"""

from __future__ import annotations

import math
from typing import Any

#: Longest text field kept, in characters. Spotify's and MusicBrainz's own limits are far
#: below (titles are at most a few hundred characters); a bigger value is a hostile or broken
#: row, and every text column downstream (Parquet, DuckDB VARCHAR, Metabase cards) stays small.
MAX_TEXT = 4096

_INT64 = 2**63 - 1


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored (over ``MAX_TEXT`` characters, not valid Unicode), or None.

    The one text rule: the export and recently-played parsers quarantine a row for it, the
    enrichment readers store null.
    """
    if len(value) > MAX_TEXT:
        return f"is {len(value)} characters long (limit {MAX_TEXT})"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text"
    return None


def text(value: Any) -> str | None:
    """A string ``text_problem`` accepts, else None."""
    if not isinstance(value, str) or text_problem(value) is not None:
        return None
    return value


def texts(value: Any) -> list[str]:
    """The valid strings of a JSON list (anything else in it, or a non-list, is left out)."""
    return [t for t in (text(v) for v in items(value)) if t is not None]


def integer(value: Any) -> int | None:
    """A whole number a 64-bit column holds (a whole float counts), else None; not a bool."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            return None
        value = int(value)
    if isinstance(value, int) and -_INT64 <= value <= _INT64:
        return value
    return None


def number(value: Any) -> float | None:
    """A finite number, from a JSON number or numeric text (Nominatim sends "50.84"), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value) if len(value) <= 64 else None
        except ValueError:
            return None
    if isinstance(value, int | float):
        try:
            as_float = float(value)
        except OverflowError:
            return None
        return as_float if math.isfinite(as_float) else None
    return None


def flag(value: Any) -> bool | None:
    """A JSON boolean, else None."""
    return value if isinstance(value, bool) else None


def obj(value: Any) -> dict[str, Any]:
    """A JSON object, or an empty one in place of anything else (so ``.get`` is safe)."""
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[Any]:
    """A JSON list, or an empty one in place of anything else (so iterating is safe)."""
    return value if isinstance(value, list) else []
