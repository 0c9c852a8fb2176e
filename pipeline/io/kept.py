"""Answers kept for the life of a process while the files they were made from are unchanged.

One command asks some questions many times, each time outside the scheduling pass that
``pass_cache`` shares answers in: a build's ~15 re-checks of staging, its three enrichment
tasks reading the same lookups. An answer kept here is stamped with a stat-only fingerprint of
its files (``io.markers.fingerprint``), taken before the answer is made: it is reused exactly
while the files are as they were, and made again at the first asking after any of them changed.
A slot is a tuple whose first item names its group, so a group can be dropped at once.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

T = TypeVar("T")

#: slot -> (stamp, answer).
_KEPT: dict[tuple[Hashable, ...], tuple[Hashable, Any]] = {}


def kept(slot: tuple[Hashable, ...], stamp: Hashable, make: Callable[[], T]) -> T:
    """``make()``, or the answer it gave for ``slot`` while the stamp was ``stamp``.

    Callers must not change what they get: the next asking gets the same object.
    """
    held = _KEPT.get(slot)
    if held is not None and held[0] == stamp:
        return cast(T, held[1])
    answer = make()
    _KEPT[slot] = (stamp, answer)
    return answer


def holds(slot: tuple[Hashable, ...]) -> bool:
    """Whether an answer is kept for ``slot`` (for any stamp)."""
    return slot in _KEPT


def peek(slot: tuple[Hashable, ...]) -> Any:
    """The answer kept for ``slot`` (for whatever stamp), or None."""
    held = _KEPT.get(slot)
    return None if held is None else held[1]


def forget(group: str) -> None:
    """Drop every answer of ``group`` (the first item of its slot), e.g. to free its memory."""
    for slot in [s for s in _KEPT if s[0] == group]:
        del _KEPT[slot]
