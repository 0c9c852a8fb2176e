"""What every task shares: the lake, result logging and the visualiser's progress."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import luigi

from pipeline.paths import Lake, lake

logger = logging.getLogger("pipeline.tasks")


def current_lake() -> Lake:
    """The lake of the current settings (tests re-point it per test)."""
    return lake()


@contextmanager
def timed_result(task: luigi.Task, dataset: str, date: dt.date | None = None) -> Iterator[dict]:
    """Log one INFO line per task result (dataset, date, rows, seconds); then free its memory."""
    from pipeline.io.duck import release_memory

    result: dict = {"rows": 0}
    started = time.monotonic()
    yield result
    release_memory()
    seconds = round(time.monotonic() - started, 3)
    logger.info(
        "task=%s dataset=%s date=%s rows=%s seconds=%s",
        task.get_task_family(),
        dataset,
        date.isoformat() if date else "-",
        result.get("rows", 0),
        seconds,
        extra={
            "task": task.get_task_family(),
            "dataset": dataset,
            "date": date.isoformat() if date else None,
            "rows": result.get("rows", 0),
            "seconds": seconds,
        },
    )


def report_progress(task: luigi.Task, percent: float, message: str) -> None:
    """Tell the visualiser (and the terminal's progress bar) how far ``task`` is.

    ``set_status_message``/``set_progress_percentage`` only exist while a worker runs the task
    (a direct ``run()`` in a test has neither); ``Event.PROGRESS`` feeds ``pipeline.progress``.
    """
    percent = max(0, min(100, round(percent)))
    status_message(task, message)
    progress_percentage(task, percent)
    task.trigger_event(luigi.Event.PROGRESS, task, percent, message)


def status_message(task: luigi.Task, message: str) -> None:
    """Show ``message`` for ``task`` in the visualiser, when a worker runs it.

    Luigi's ``Task.__init__`` sets ``set_status_message`` to None and the worker replaces it
    with a callback, so the attribute is typed None; this is the one place that calls it.
    """
    setter: Callable[[str], None] | None = getattr(task, "set_status_message", None)
    if callable(setter):
        setter(message)


def progress_percentage(task: luigi.Task, percent: int) -> None:
    """Set ``task``'s progress bar in the visualiser, when a worker runs it (as above)."""
    setter: Callable[[int], None] | None = getattr(task, "set_progress_percentage", None)
    if callable(setter):
        setter(percent)
