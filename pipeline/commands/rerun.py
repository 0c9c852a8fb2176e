"""``music-tracker rerun TASK [--param value ...]``: run a task again although it is done.

Luigi never reruns a complete task ("Did not run any tasks"). Its own idiom is to remove the
task's output, which is what this does first (``target.remove()`` on each output that
exists), with the task named and parameterised exactly as for ``luigi --module pipeline.tasks``
(``rerun StagePlays --date 2026-11-24``, ``rerun DbtBuild --date 2026-11-24``). Some of our
tasks are complete by what their inputs look like rather than by their output alone
(``DbtBuild``, ``PublishReporting``, ``DailyPipeline``): when the task still says it is
complete after its outputs are gone, this one instance is marked incomplete for this run, so
it runs once more. Only the task itself runs again; its requirements run only if incomplete.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys

import luigi
import luigi.task_register
from luigi.cmdline_parser import CmdlineParser
from luigi.task import flatten

from pipeline.transform.slots import future_day_problem

logger = logging.getLogger(__name__)


def task_from_args(name: str, params: list[str]) -> luigi.Task:
    """The task ``luigi --module pipeline.tasks NAME PARAMS...`` would run."""
    import pipeline.tasks  # noqa: F401 - registers every task

    with CmdlineParser.global_instance([name, *params]) as parser:
        return parser.get_task_obj()


def remove_outputs(task: luigi.Task) -> list[str]:
    """Remove every output of ``task`` that exists (the Luigi way); return their paths."""
    removed: list[str] = []
    for target in flatten(task.output()):
        if target.exists():
            target.remove()
            removed.append(str(getattr(target, "path", target)))
    return removed


def force(task: luigi.Task) -> None:
    """Make this instance incomplete for this run (Luigi caches instances per parameters)."""

    def incomplete() -> bool:
        return False

    task.complete = incomplete  # type: ignore[method-assign]


def rerun(name: str, params: list[str]) -> int:
    """Remove the task's outputs and run it (with the CLI's scheduler choice); exit code."""
    from pipeline.runner import run_tasks

    try:
        task = task_from_args(name, params)
    except luigi.task_register.TaskClassNotFoundException:
        import pipeline.tasks

        known = ", ".join(sorted(pipeline.tasks.__all__))
        print(f"error: no task named {name!r}; tasks: {known}", file=sys.stderr)
        return 2
    except (SystemExit, ValueError, luigi.parameter.ParameterException) as exc:
        print(f"error: {name} {' '.join(params)}: {exc or 'bad parameters'}", file=sys.stderr)
        return 2
    day = getattr(task, "date", None)
    problem = future_day_problem(day, dt.datetime.now(dt.UTC)) if isinstance(day, dt.date) else None
    if problem:  # 9999-12-31 was a traceback in Luigi's run summary (it asks the day after)
        print(f"error: {name} {' '.join(params)}: {problem}", file=sys.stderr)
        return 2
    removed = remove_outputs(task)
    for path in removed:
        logger.info("rerun %s: removed %s", task, path)
    if task.complete():
        force(task)
    print(f"Rerunning {task} (removed {len(removed)} output(s))", file=sys.stderr)
    code = run_tasks([task])
    print(f"{task}: {'done' if code == 0 else f'failed (exit {code})'}")
    return code


def cmd_rerun(args: argparse.Namespace) -> int:
    return rerun(args.task, list(args.params))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "rerun",
        help="run a finished task again (removes its outputs first)",
        description="Example: music-tracker rerun StagePlays --date 2026-11-24",
    )
    parser.add_argument("task", help="task name, as for `luigi --module pipeline.tasks`")
    parser.add_argument(
        "params", nargs=argparse.REMAINDER, help="its parameters, e.g. --date 2026-11-24"
    )
    parser.set_defaults(func=cmd_rerun, writes_lake=True)
