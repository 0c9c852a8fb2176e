"""SIGTERM and SIGINT end a command cleanly: task stopped, dbt stopped, locks released.

``docker stop``, a NAS shutting down and Ctrl-C all send a signal to the pipeline. Without a
handler Python dies at once (SIGTERM) and leaves dbt running on its own, holding the
warehouse's DuckDB lock, so the rerun fails. With ``interruptible(main)``:

* the signal raises ``Interrupted`` (a ``KeyboardInterrupt``, which Luigi's worker lets through
  instead of recording a task failure) in the main thread, wherever it is;
* leaving the dbt call stops dbt's process group (``pipeline.warehouse.dbt_process``), leaving
  the ``with`` blocks releases the lake's lock (``pipeline.ops.lock``), and temp files are never
  renamed into place;
* one line on stderr says what was interrupted, and the exit code is 128 + the signal
  (130 for SIGINT, 143 for SIGTERM), as shells report it.

A SIGKILL runs no handler: there the kernel releases the ``flock`` and dbt's
``PR_SET_PDEATHSIG`` ends dbt with its parent.
"""

from __future__ import annotations

import functools
import signal
import sys
from collections.abc import Callable
from typing import Any

#: The Luigi task running now (set from Luigi's START/SUCCESS/FAILURE events).
_current_task: list[str] = []
_hooked = False


class Interrupted(KeyboardInterrupt):
    """The command got SIGTERM or SIGINT; ``signum`` says which."""

    def __init__(self, signum: int, during: str, dbt_running: bool) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.during = during
        self.dbt_running = dbt_running


def _hook_luigi() -> None:
    """Follow which task runs, to name it when a signal comes (registered once)."""
    global _hooked
    if _hooked:
        return
    from pipeline.lean_luigi import import_luigi

    import_luigi()  # the command's first import of Luigi
    import luigi

    @luigi.Task.event_handler(luigi.Event.START)
    def _started(task: luigi.Task) -> None:
        _current_task.append(task.task_id)

    @luigi.Task.event_handler(luigi.Event.SUCCESS)
    @luigi.Task.event_handler(luigi.Event.FAILURE)
    def _ended(task: luigi.Task, *_: Any) -> None:
        if task.task_id in _current_task:
            _current_task.remove(task.task_id)

    _hooked = True


def _raise(signum: int, _frame: Any) -> None:
    from pipeline.warehouse import dbt_process

    # Further signals while cleaning up are ignored: the first one is being honoured.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    during = _current_task[-1] if _current_task else "start-up"
    raise Interrupted(signum, during, dbt_running=bool(dbt_process.running()))


def describe(exc: Interrupted, command: str) -> str:
    """The one line the user sees."""
    stopped = " (dbt stopped)" if exc.dbt_running else ""
    return (
        f"{command}: interrupted by {signal.Signals(exc.signum).name} during "
        f"{exc.during}{stopped}; locks released, nothing half-written is visible. "
        "Run the same command again to finish."
    )


def interruptible(main: Callable[..., int]) -> Callable[..., int]:
    """Wrap a CLI ``main``: SIGTERM/SIGINT stop it cleanly with one line and 128 + signal."""

    @functools.wraps(main)
    def wrapper(argv: list[str] | None = None) -> int:
        words = list(sys.argv[1:] if argv is None else argv)
        command = " ".join(["music-tracker", *[w for w in words if not w.startswith("-")][:1]])
        _hook_luigi()
        before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        for sig in before:
            signal.signal(sig, _raise)
        try:
            return main(argv)
        except Interrupted as exc:
            from pipeline.warehouse import dbt_process

            dbt_process.stop_all(grace_s=1.0)  # a group not yet reaped by its caller
            print(describe(exc, command), file=sys.stderr)
            return 128 + exc.signum
        finally:
            _current_task.clear()
            for sig, handler in before.items():
                signal.signal(sig, handler)

    return wrapper
