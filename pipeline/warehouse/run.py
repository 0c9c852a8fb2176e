"""Run a dbt command on the project for a lake: arguments, environment, the build's requests.

The process itself (its own interpreter and process group, progress, timeouts, OOM) is
``dbt_process``; this module decides what dbt is told.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from pipeline.io.atomic import write_json_atomic
from pipeline.io.duck import release_memory
from pipeline.io.pass_cache import memo
from pipeline.paths import Lake
from pipeline.settings import child_environment, get_settings
from pipeline.warehouse import warm
from pipeline.warehouse.changes import (
    changed_lookups,
    lookup_content,
    lookup_snapshot_file,
)
from pipeline.warehouse.current import dbt_vars, project_fingerprint
from pipeline.warehouse.dbt_process import (
    DbtOutOfMemory,
    DbtResult,
    DbtTimeout,
    Progress,
    oom_message,
)

logger = logging.getLogger(__name__)


def dbt_env(the_lake: Lake) -> dict[str, str]:
    """Environment for the dbt subprocess: the lake's paths and resource caps from settings.

    dbt's partial parse keeps its saved manifest only while the profile's values and the env
    vars read at parse time are unchanged; with the DuckDB file's absolute path in the profile,
    the first build after another lake had been built (a first import, the demo's lake, a
    test's, the bench's comparison) parsed the whole project again (~3.4 s against ~0.4). So
    the file's path is relative to the lake, where dbt runs (``dbt_cwd``), the same for every
    lake, and ``DATA_DIR`` is read only when SQL is compiled to run (``macros/lake_paths.sql``).
    """
    settings = get_settings()
    env = child_environment()
    env.update(
        DATA_DIR=str(the_lake.root.resolve()),
        DBT_DUCKDB_PATH=str(the_lake.warehouse.relative_to(the_lake.root)),
        DBT_TARGET=settings.dbt.target,
        DUCKDB_MEMORY_LIMIT=settings.duckdb.memory_limit,
        DUCKDB_THREADS=str(settings.duckdb.threads),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    return env


def dbt_cwd(the_lake: Lake) -> Path:
    """Where dbt runs: the lake's root, against which ``dbt_env``'s paths resolve."""
    return the_lake.root.resolve()


def dbt_target_dir() -> Path:
    """dbt's artifacts folder (``dbt.target_path``, default the project's ``target/``)."""
    settings = get_settings()
    if settings.dbt.target_path:
        return Path(settings.dbt.target_path)
    return settings.paths.dbt_project_dir / "target"


def reporting_window_file(the_lake: Lake) -> Path:
    """The running build's request for the reporting marts' window (macro reporting_window)."""
    return the_lake.plays_changed_dates_file.with_name("reporting_window.json")


def shared_flags() -> list[str]:
    """The flags every dbt command of the pipeline gets (its parse depends on them)."""
    settings = get_settings()
    project = settings.paths.dbt_project_dir
    return [
        "--log-format",
        "json",
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--vars",
        json.dumps(dbt_vars()),
        "--target-path",
        str(dbt_target_dir()),
        "--log-path",
        str(dbt_target_dir() / "logs"),
        "--log-level-file",
        settings.dbt.log_level_file,
    ]


def _project_print() -> str:
    """The project's fingerprint, once per scheduling pass: Luigi announces each input of an
    incomplete build (``warm_up`` per input), and each would hash every project file again."""
    project = get_settings().paths.dbt_project_dir
    return memo(("dbt project", str(project)), lambda: project_fingerprint(project, dbt_vars()))


def warm_up(the_lake: Lake) -> None:
    """Start dbt's interpreter now for a command that will follow (``warm``): its imports and
    parse then overlap what runs before it."""
    warm.start(shared_flags(), dbt_env(the_lake), dbt_cwd(the_lake), _project_print())


def run_dbt(the_lake: Lake, args: list[str], on_progress: Progress | None = None) -> DbtResult:
    """Run one dbt command on the project in its own process group (``dbt_process``), in the
    interpreter ``warm_up`` started for it if there is one.

    ``on_progress(done, total, message)`` hears of every node. A timeout or an out-of-memory
    end raises one clear error; a failure is logged as the failing nodes' messages.
    """
    release_memory()
    settings = get_settings()
    project = settings.paths.dbt_project_dir
    if not (project / "dbt_project.yml").is_file():
        # Relative paths in the settings resolve against the config folder's parent: a
        # MUSIC_TRACKER_CONFIG_DIR elsewhere moves the project too (dbt's own words name no
        # setting, and a missing folder got no words at all).
        raise RuntimeError(
            f"paths.dbt_project_dir: {project} holds no dbt_project.yml; point it at the "
            "project's dbt_project/ folder (MUSIC_TRACKER__PATHS__DBT_PROJECT_DIR)"
        )
    the_lake.warehouse_dir.mkdir(parents=True, exist_ok=True)
    timeout_s = settings.dbt.timeout_minutes * 60
    try:
        result = warm.run(
            shared_flags(),
            args,
            dbt_env(the_lake),
            dbt_cwd(the_lake),
            _project_print(),
            timeout_s,
            on_progress,
        )
    except DbtTimeout as exc:
        raise RuntimeError(
            f"dbt {args[0]} did not finish within dbt.timeout_minutes "
            f"({timeout_s // 60} min) and was stopped"
        ) from exc
    if result.out_of_memory:
        message = oom_message(f"dbt {args[0]}", settings.duckdb.memory_limit)
        logger.error("%s (exit %s)", message, result.returncode)
        if result.errors:  # which model, and DuckDB's own words, for the log file
            logger.error("dbt %s errors:\n%s", args[0], result.summary())
        raise DbtOutOfMemory(message)
    if not result.ok:
        logger.error("dbt %s failed (exit %s):\n%s", args[0], result.returncode, result.summary())
    return result


def run_dbt_for_days(
    the_lake: Lake,
    args: list[str],
    changed: list[str] | None,
    on_progress: Progress | None = None,
    full_window: bool = False,
    full_tests: bool = False,
    select: Callable[[dict[str, list[str]] | None], list[str]] | None = None,
) -> DbtResult:
    """Run dbt with the build's requests in place, and never leave them behind.

    The requests: the changed play days (staging reloads only those), and the reporting
    window (macro reporting_window): the lookup keys whose answers changed since the last
    successful build, so the incremental reporting marts recompute the periods those days and
    answers touch. ``select(lookups)`` gives the ``--select`` arguments for those changes.
    No list of days, ``full_window`` (the project changed) or no lookup snapshot means every
    period; ``full_tests`` also means every period, and every test on every row. After a
    successful run the lookup content is kept as the next build's baseline. A request left
    over would make a later hand-run ``dbt build`` reload only those days.
    """
    request = the_lake.plays_changed_dates_file
    window = reporting_window_file(the_lake)
    content = lookup_content(the_lake)
    lookups = None if changed is None or full_window else changed_lookups(the_lake, content)
    request.unlink(missing_ok=True)
    window.unlink(missing_ok=True)
    if changed is not None:
        write_json_atomic(request, changed)
        if lookups is not None:
            write_json_atomic(window, {"lookups": lookups, "full_tests": full_tests})
    if select is not None:
        args = [*args, *select(lookups)]
    try:
        result = run_dbt(the_lake, args, on_progress)
    finally:
        request.unlink(missing_ok=True)
        window.unlink(missing_ok=True)
    if result.ok:
        write_json_atomic(lookup_snapshot_file(the_lake), content)
    return result
