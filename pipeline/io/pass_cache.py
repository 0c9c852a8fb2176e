"""Facts about the lake computed once per Luigi scheduling pass, not once per question.

Luigi asks every task's ``complete()`` while it schedules, and the checks nest:
PublishReporting's asks DbtBuild's, which asks its inputs', and several of them walk the same
trees (the staged Parquet files, the import units) or open the same DuckDB file. At a million
plays one walk of ``staged/`` is ~15,000 files; a pass with nothing to do walked it ten times
and spent two thirds of its time there. Nothing in the lake changes while a pass only asks
questions, so the runner (``pipeline.runner``) opens a pass around Luigi's scheduling and the
answers are shared within it. Outside a pass (a task's ``run()``, Luigi's re-check of a task's
dependencies just before running it, the status command) every call computes afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

#: The open pass's answers; None outside a pass.
_answers: dict[Hashable, Any] | None = None


@contextmanager
def scheduling_pass() -> Iterator[None]:
    """Within the block, ``memo`` answers each question once (nested blocks share the outer)."""
    global _answers
    if _answers is not None:
        yield
        return
    _answers = {}
    try:
        yield
    finally:
        _answers = None


def memo(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, or inside a pass the answer it gave for ``key`` earlier in that pass.

    Callers must not mutate what they get back: another check of the pass may read it.
    """
    if _answers is None:
        return compute()
    if key not in _answers:
        _answers[key] = compute()
    return _answers[key]


def in_pass() -> bool:
    """Whether a scheduling pass is open (answers are shared)."""
    return _answers is not None


def peek(key: Hashable) -> Any:
    """The answer this pass holds for ``key``, or None (none yet, or outside a pass)."""
    return None if _answers is None else _answers.get(key)
