"""One progress bar for a run at a terminal, fed by the tasks' own progress reports.

Tasks report through ``tasks.base.report_progress``: it sets the status message and the
percentage the visualiser shows (luigid or the local scheduler) and fires Luigi's
``Event.PROGRESS`` on the task. This module listens to that event (and ``START``/``SUCCESS``)
while a command's Luigi run lasts and draws one tqdm bar on stderr:
`` 40%|######    | StageAllPlays: month 2019-04 (48/120)``.

Events are in-process callbacks: they reach the bar because our workers run tasks in the
command's own process (one worker, no ``[worker] timeout``/``force_multiprocessing``, see
luigi.cfg). A forked task would still report to the visualiser, just not to the bar.

No bar when stderr is not a terminal (cron, Docker, pipes): nothing is written then.
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import luigi

_EVENTS = (luigi.Event.START, luigi.Event.PROGRESS, luigi.Event.SUCCESS)


class _BarStream:
    """A stream for the console log handler that prints above the bar instead of through it."""

    def write(self, text: str) -> None:
        from tqdm import tqdm

        if text.strip():
            tqdm.write(text.rstrip("\n"), file=sys.stderr)

    def flush(self) -> None:
        sys.stderr.flush()


def _console_handlers() -> list[logging.StreamHandler]:
    return [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler)
        and not isinstance(h, logging.FileHandler)
        and getattr(h, "stream", None) in (sys.stderr, sys.stdout)
    ]


@contextmanager
def bar(enabled: bool = True) -> Iterator[None]:
    """Show one progress bar while the block runs Luigi tasks (terminal only)."""
    if not enabled or not sys.stderr.isatty():
        yield
        return
    from tqdm import tqdm

    shown = tqdm(
        total=100,
        file=sys.stderr,
        leave=False,
        # A terminal that reports no width (a pty nobody sized) would get an empty bar.
        ncols=shutil.get_terminal_size((100, 20)).columns or 100,
        nrows=shutil.get_terminal_size((100, 20)).lines or 20,
        bar_format="{percentage:3.0f}%|{bar:30}| {desc}",
    )

    def show(task: luigi.Task, percent: float | None, message: str = "") -> None:
        label = task.get_task_family() + (f": {message}" if message else "")
        shown.set_description_str(label[:100], refresh=False)
        if percent is not None:
            shown.n = max(0.0, min(100.0, float(percent)))
        shown.refresh()

    def on_start(task: luigi.Task, *_: Any) -> None:
        show(task, 0)

    def on_progress(task: luigi.Task, percent: float = 0, message: str = "", *_: Any) -> None:
        show(task, percent, str(message))

    def on_success(task: luigi.Task, *_: Any) -> None:
        shown.n = 100
        shown.refresh()

    callbacks: dict[str, Callable[..., None]] = {
        luigi.Event.START: on_start,
        luigi.Event.PROGRESS: on_progress,
        luigi.Event.SUCCESS: on_success,
    }
    for event, callback in callbacks.items():
        luigi.Task.event_handler(event)(callback)
    handlers = _console_handlers()
    streams = [h.setStream(_BarStream()) for h in handlers]
    try:
        yield
    finally:
        registry = luigi.Task._event_callbacks.get(luigi.Task, {})
        for event, callback in callbacks.items():
            registry.get(event, set()).discard(callback)
        for handler, stream in zip(handlers, streams, strict=True):
            if stream is not None:
                handler.setStream(stream)
        shown.close()
