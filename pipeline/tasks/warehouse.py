"""Build the warehouse with dbt and publish it for Metabase.

``DbtBuild(date)`` runs ``dbt build`` in a subprocess (dbt is only imported by that process, so
a cycle with nothing to do never pays dbt's start-up) and keeps ``run_results.json`` as its
target. Its ``complete()`` asks whether the last build saw every staged file of ``self.date``
and before exactly as it is now (a per-day fingerprint recorded in the marker): new plays or
lookups make it run again, while a backfill staging later days leaves earlier builds complete.

``PublishReporting(date)`` exports every mart to Parquet (atomic replace) and keeps a small
DuckDB file of views over them in ``reporting/``, written with an older storage version so
Metabase's bundled DuckDB opens it. Metabase never holds a lock the build needs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import luigi
import pyarrow as pa

from pipeline import schemas
from pipeline.io.atomic import write_json_atomic
from pipeline.io.duck import release_memory, set_aside_if_unreadable, unreadable_reason
from pipeline.io.markers import fingerprint, latest_marker
from pipeline.io.parquet import write_parquet_atomic
from pipeline.paths import Lake
from pipeline.reporting import publish_marts
from pipeline.settings import child_environment, get_settings
from pipeline.tasks.base import (
    current_lake,
    report_progress,
    status_message,
    timed_result,
    up_to,
)
from pipeline.tasks.staging import StagePlays
from pipeline.warehouse.dbt_process import (
    DbtOutOfMemory,
    DbtResult,
    DbtTimeout,
    Progress,
    oom_message,
    run_dbt_process,
)

logger = logging.getLogger(__name__)

# Staged datasets that are outputs of the build, not inputs to it.
_NOT_INPUTS = ("dbt_runs", "published")


def staged_fingerprint(the_lake: Lake) -> dict[str, str]:
    """What a build reads: every staged Parquet file (plays, lookups, quarantine, reference)."""
    return fingerprint(the_lake.staged, exclude=_NOT_INPUTS)


def build_is_current(the_lake: Lake, day: dt.date, full_tests: bool = False) -> bool:
    """Whether the last build saw every staged file of ``day`` and before as it is now.

    ``full_tests``: and was a whole-suite build for ``day`` or later (``cron daily`` asks).
    A warehouse file that is gone is never current, whatever the markers say: a build over a
    deleted warehouse must rebuild it, not report the old marker's counts.
    """
    if not the_lake.warehouse.exists():
        return False
    latest = latest_marker(the_lake.dbt_runs_dir, "run_results.json")
    if latest is None or not isinstance(latest[1].get("staged_fingerprint"), dict):
        return False
    if unreadable_reason(the_lake.warehouse) is not None:
        return False  # damaged: DbtBuild.run sets it aside and builds it again
    if full_tests and not (latest[1].get("full_tests") and latest[0] >= day):
        return False
    built = latest[1]["staged_fingerprint"]
    return up_to(built, day) == up_to(staged_fingerprint(the_lake), day)


#: Above this many changed days a build reloads every day (one scan beats a huge IN list).
MAX_CHANGED_DAYS = 400


def plays_changed_dates(
    the_lake: Lake, now: dict[str, str], full_refresh: bool = False
) -> list[str] | None:
    """UTC days whose staged plays differ from what the last successful build read.

    ``None`` means "reload every day": no earlier build (or one from before this was recorded),
    no warehouse file, a full refresh, or so many days that one full scan is cheaper. Days
    whose files were removed are listed too, so their rows are dropped.
    """
    if full_refresh or not the_lake.warehouse.exists():
        return None
    latest = latest_marker(the_lake.dbt_runs_dir, "run_results.json")
    if latest is None or latest[1].get("status") != "success":
        return None
    before = latest[1].get("plays_fingerprint")
    if not isinstance(before, dict):
        return None
    keys = set(before) | set(now)
    changed = sorted(k.removeprefix("date=") for k in keys if before.get(k) != now.get(k))
    if any(not day or "=" in day for day in changed) or len(changed) > MAX_CHANGED_DAYS:
        return None
    return changed


#: Enrichment lookups whose answers reach the marts, with the key dbt joins each on.
LOOKUP_KEYS: dict[str, str] = {
    "lookups/spotify_tracks": "track_id",
    "lookups/spotify_albums": "album_id",
    "lookups/spotify_artists": "artist_id",
    "lookups/musicbrainz_artists": "lookup_key",
    "lookups/geo_places": "place_key",
}
#: Columns that say when an answer was fetched, not what it is (a refresh with the same answer
#: changes nothing downstream).
LOOKUP_NOISE = ("fetched_at",)
#: Above this many changed lookup keys a build recomputes every period (one pass is cheaper).
MAX_CHANGED_LOOKUPS = 5000
#: What dbt builds from besides the staged data: a change here (an upgrade, an edited model)
#: means every period is recomputed and every model rebuilt.
_PROJECT_PARTS = ("models", "macros", "seeds", "tests", "dbt_project.yml", "profiles.yml")


def lookup_content(the_lake: Lake) -> dict[str, str]:
    """A content hash per looked-up entity (``"<dataset>|<key>"``), over every staged answer.

    Content, not files: the enrichment writes a (often empty) partition every day and renames
    nothing it needs, so file fingerprints change when answers do not. Which keys changed is
    what decides which artists' periods a build recomputes (``changed_lookups``).
    """
    from pipeline.io.atomic import TMP_MARK
    from pipeline.io.duck import connect

    content: dict[str, str] = {}
    con = connect()
    try:
        for dataset, key in LOOKUP_KEYS.items():
            files = sorted(
                str(f)
                for f in the_lake.dated_dir(dataset).glob("date=*/*.parquet")
                if TMP_MARK not in f.name
            )
            if not files:
                continue
            name = dataset.removeprefix("lookups/")
            rows = con.execute(
                f"""
                select {key}, hash(list(distinct row_hash order by row_hash))::varchar
                from (
                    select {key}, hash(answer) as row_hash
                    from (
                        select * exclude ({", ".join(LOOKUP_NOISE)})
                        from read_parquet(?, union_by_name = true, hive_partitioning = false)
                    ) as answer
                )
                where {key} is not null
                group by {key}
                """,
                [files],
            ).fetchall()
            content.update({f"{name}|{k}": h for k, h in rows})
    finally:
        con.close()
    return content


def lookup_snapshot_file(the_lake: Lake) -> Path:
    """The lookup content (``lookup_content``) the last successful build was made from."""
    return the_lake.plays_changed_dates_file.with_name("lookup_content.json")


def reporting_window_file(the_lake: Lake) -> Path:
    """The running build's request for the reporting marts' window (macro reporting_window)."""
    return the_lake.plays_changed_dates_file.with_name("reporting_window.json")


def changed_lookups(the_lake: Lake, now: dict[str, str]) -> dict[str, list[str]] | None:
    """Keys per lookup dataset whose answers differ from the last successful build's.

    ``None`` means "recompute every period": no snapshot yet, or too many changes.
    """
    snapshot = lookup_snapshot_file(the_lake)
    try:
        before = json.loads(snapshot.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(before, dict):
        return None
    changed: dict[str, list[str]] = {}
    for entity in set(before) | set(now):
        if before.get(entity) != now.get(entity):
            dataset, _, key = entity.partition("|")
            changed.setdefault(dataset, []).append(key)
    if sum(map(len, changed.values())) > MAX_CHANGED_LOOKUPS:
        return None
    return {dataset: sorted(keys) for dataset, keys in sorted(changed.items())}


def project_fingerprint(project: Path, vars_: dict, also: tuple[Path, ...] = ()) -> str:
    """A hash of the dbt project's own files, the vars a build passes and ``also`` (the
    listeners file: a new time zone moves every local day)."""
    digest = hashlib.sha256(json.dumps(vars_, sort_keys=True).encode())
    for path in also:
        digest.update(path.read_bytes() if path.exists() else b"")
    for part in _PROJECT_PARTS:
        root = project / part
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            digest.update(str(path.relative_to(project)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def dbt_vars() -> dict:
    """The vars every dbt run gets from the settings."""
    return {"session_idle_gap_minutes": get_settings().sessions.idle_gap_minutes}


#: What a cycle's build leaves to the whole suite (``--exclude``).
CYCLE_EXCLUDES = ("test_type:unit", "tag:whole_suite")


def build_selection(
    changed: list[str] | None, lookups: dict[str, list[str]] | None, whole: bool
) -> list[str]:
    """``--select`` for an incremental build: what the changed inputs reach, nothing else.

    Plays reach nearly every model; changed lookup answers add their staging models' children;
    the pipeline's own tables (quarantine, gaps) are cheap and always rebuilt. Seeds, source
    freshness tests and what only unchanged lookups feed are left alone. ``whole`` (or no
    list of changed days) selects everything: a first build, a rebuild, an upgrade, the
    whole suite. Only the whole suite runs the unit tests (the project is unchanged between
    cycles) and the tests tagged whole_suite (they recompute an ephemeral model over every
    play).
    """
    if whole or changed is None:
        return []
    selected = ["stg_pipeline__quarantine+", "stg_pipeline__gaps+"]
    if changed:
        selected.append("stg_spotify__plays+")
    datasets = {"spotify_tracks", "spotify_albums", "spotify_artists", "musicbrainz_artists"}
    if lookups is None or set(lookups) & datasets:
        selected += [
            "stg_spotify__tracks+",
            "stg_spotify__albums+",
            "stg_spotify__artists+",
            "stg_musicbrainz__artists+",
        ]
    if lookups is None or "geo_places" in lookups:
        selected.append("stg_geo__places+")
    return ["--select", *selected, "--exclude", *CYCLE_EXCLUDES]


def write_listeners(the_lake: Lake) -> None:
    """Write the configured listeners for dbt, only when they changed (keeps fingerprints)."""
    rows = [
        {"account": a.name, "display_name": a.display_name or a.name, "timezone": a.timezone}
        for a in get_settings().accounts
    ]
    table = pa.Table.from_pylist(rows, schema=schemas.LISTENERS)
    target = the_lake.listeners_file
    if target.exists():
        import pyarrow.parquet as pq

        if pq.read_table(target).equals(table):
            return
    write_parquet_atomic(target, table)


#: Day of the zero-row placeholder partitions (never a real listening day).
PLACEHOLDER_DATE = dt.date(1970, 1, 1)


def ensure_placeholders(the_lake: Lake) -> None:
    """Give every dataset dbt reads at least a zero-row file, so sources resolve on day one."""
    placeholder = the_lake.staged / "quarantine" / "source=none" / "empty.parquet"
    if not placeholder.exists():
        write_parquet_atomic(placeholder, schemas.empty(schemas.QUARANTINE))
    for dataset, schema in schemas.DATED_DATASETS.items():
        root = the_lake.dated_dir(dataset)
        if not any(root.glob("date=*/*.parquet")):
            write_parquet_atomic(
                the_lake.dated_partition(dataset, PLACEHOLDER_DATE, "empty"),
                schemas.empty(schema),
            )


def dbt_executable() -> str:
    """The dbt script of this environment (next to the interpreter), else the one on PATH."""
    beside = Path(sys.executable).with_name("dbt")
    if beside.exists():
        return str(beside)
    found = shutil.which("dbt")
    if not found:
        raise RuntimeError("dbt is not installed in this environment (uv sync installs it)")
    return found


def dbt_env(the_lake: Lake) -> dict[str, str]:
    """Environment for the dbt subprocess: absolute paths and resource caps from settings."""
    settings = get_settings()
    env = child_environment()
    env.update(
        DATA_DIR=str(the_lake.root.resolve()),
        DBT_DUCKDB_PATH=str(the_lake.warehouse.resolve()),
        DBT_TARGET=settings.dbt.target,
        DUCKDB_MEMORY_LIMIT=settings.duckdb.memory_limit,
        DUCKDB_THREADS=str(settings.duckdb.threads),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    return env


def dbt_target_dir() -> Path:
    """dbt's artifacts folder (``dbt.target_path``, default the project's ``target/``)."""
    settings = get_settings()
    if settings.dbt.target_path:
        return Path(settings.dbt.target_path)
    return settings.paths.dbt_project_dir / "target"


def run_dbt(the_lake: Lake, args: list[str], on_progress: Progress | None = None) -> DbtResult:
    """Run one dbt command on the project in its own process group (``dbt_process``).

    ``on_progress(done, total, message)`` hears of every node. A timeout or an out-of-memory
    end raises one clear error; a failure is logged as the failing nodes' messages.
    """
    release_memory()
    settings = get_settings()
    project = settings.paths.dbt_project_dir
    vars_ = dbt_vars()
    cmd = [
        dbt_executable(),
        "--log-format",
        "json",
        *args,
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--vars",
        json.dumps(vars_),
        "--target-path",
        str(dbt_target_dir()),
        "--log-path",
        str(dbt_target_dir() / "logs"),
    ]
    the_lake.warehouse_dir.mkdir(parents=True, exist_ok=True)
    timeout_s = settings.dbt.timeout_minutes * 60
    try:
        result = run_dbt_process(cmd, dbt_env(the_lake), project, timeout_s, on_progress)
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


def summarise_run_results(path: Path) -> dict[str, Any]:
    """Counts by status from dbt's run_results.json (models, tests, failures)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    counts: dict[str, int] = {}
    for result in data.get("results", []):
        status = str(result.get("status"))
        counts[status] = counts.get(status, 0) + 1
    return {"counts": counts, "elapsed_time": data.get("elapsed_time")}


def record_failed_build(the_lake: Lake, day: dt.date, run_results: Path, code: int) -> None:
    """Keep a failed build's results in the lake, where `music-tracker status` looks.

    dbt's own ``target/`` belongs to the project, not to a lake, so it cannot say which lake's
    build failed; the success marker is not written for a failed build.
    """
    results: list = []
    if run_results.exists():
        try:
            results = json.loads(run_results.read_text(encoding="utf-8")).get("results", [])
        except ValueError:
            results = []
    write_json_atomic(
        the_lake.failed_build_record,
        {"status": "failed", "date": day.isoformat(), "exit_code": code, "results": results},
    )


@contextmanager
def whole_suite(enabled: bool = True) -> Iterator[None]:
    """Within the block, every ``DbtBuild`` built (even by another task's ``requires()``) runs
    the whole suite: every model, every period, every test on every row.

    ``cron daily`` and ``music-tracker rebuild`` use it, so a day's 48 cycles test only what
    they rebuilt and the daily run still checks everything (and heals any drift).
    """
    if not enabled:
        yield
        return
    config = luigi.configuration.get_config()
    before = config.get("DbtBuild", "full_tests", None)
    if not config.has_section("DbtBuild"):
        config.add_section("DbtBuild")
    config.set("DbtBuild", "full_tests", "true")
    try:
        yield
    finally:
        if before is None:
            config.remove_option("DbtBuild", "full_tests")
        else:
            config.set("DbtBuild", "full_tests", before)


class DbtBuild(luigi.Task):
    """``dbt build`` of the star schema, once per change of the staged data."""

    date: dt.date = luigi.DateParameter(batch_method=max)
    full_refresh: bool = luigi.BoolParameter(default=False, significant=False)
    #: Every model, every period and every test on every row (``cron daily``, ``rebuild``);
    #: otherwise a build selects what the changed inputs reach and tests the rows it rebuilt.
    full_tests: bool = luigi.BoolParameter(default=False, significant=False)
    resources = {"warehouse": 1}

    def requires(self) -> list[luigi.Task]:
        from pipeline.tasks.enrichment import EnrichArtists, EnrichCatalogue, GeocodeOrigins

        return [
            StagePlays(date=self.date),
            EnrichCatalogue(date=self.date),
            EnrichArtists(date=self.date),
            GeocodeOrigins(date=self.date),
        ]

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(current_lake().dbt_run_marker(self.date)))

    def complete(self) -> bool:
        if not all(t.complete() for t in luigi.task.flatten(self.requires())):
            return False
        return build_is_current(current_lake(), self.date, self.full_tests)

    def report_dbt_progress(self, done: int, total: int, message: str) -> None:
        """One dbt node started or finished: the visualiser shows "model 23/39: fct_plays"."""
        report_progress(self, 100 * done / max(total, 1), f"dbt build: {message}")

    def run(self) -> None:
        the_lake = current_lake()
        with timed_result(self, "warehouse", self.date) as result:
            set_aside_if_unreadable(the_lake.warehouse)  # then every day is built again
            write_listeners(the_lake)
            from pipeline.enrich.runs import upgrade_origin_keys

            upgrade_origin_keys(the_lake)  # lookups from before origin_place_key: dbt reads it
            ensure_placeholders(the_lake)
            fp = staged_fingerprint(the_lake)
            plays_fp = fingerprint(the_lake.plays_dir)
            project_fp = project_fingerprint(
                get_settings().paths.dbt_project_dir, dbt_vars(), (the_lake.listeners_file,)
            )
            if not any(the_lake.plays_dir.glob("date=*/*.parquet")):
                marker: dict[str, Any] = {"status": "skipped", "reason": "no plays staged yet"}
            else:
                changed = plays_changed_dates(the_lake, plays_fp, self.full_refresh)
                previous = latest_marker(the_lake.dbt_runs_dir, "run_results.json")
                project_changed = previous is None or (
                    previous[1].get("project_fingerprint") != project_fp
                )
                whole = self.full_refresh or self.full_tests or project_changed
                status_message(
                    self,
                    "dbt build running ("
                    + ("every day" if changed is None else f"{len(changed)} changed days")
                    + (", whole suite" if whole else "")
                    + ")",
                )
                args = ["build"] + (["--full-refresh"] if self.full_refresh else [])
                proc = run_dbt_for_days(
                    the_lake,
                    args,
                    changed,
                    self.report_dbt_progress,
                    full_window=project_changed,
                    full_tests=self.full_tests,
                    select=lambda lookups: build_selection(changed, lookups, whole),
                )
                run_results = dbt_target_dir() / "run_results.json"
                if proc.returncode != 0:
                    record_failed_build(the_lake, self.date, run_results, proc.returncode)
                    raise RuntimeError(
                        f"dbt build failed (exit {proc.returncode}): {proc.summary(1)}; see "
                        f"{run_results}"
                    )
                marker = {"status": "success", **summarise_run_results(run_results)}
                marker["results"] = json.loads(run_results.read_text(encoding="utf-8")).get(
                    "results", []
                )
            marker["staged_fingerprint"] = fp
            marker["full_tests"] = self.full_tests or self.full_refresh
            if marker["status"] == "success":
                marker["project_fingerprint"] = project_fp
            marker["plays_fingerprint"] = plays_fp
            marker["build_id"] = hashlib.sha256(
                json.dumps([self.date.isoformat(), fp], sort_keys=True).encode()
            ).hexdigest()[:16]
            marker["date"] = self.date.isoformat()
            write_json_atomic(self.output().path, marker)
            result["rows"] = sum(marker.get("counts", {}).values())
        status_message(self, f"dbt: {marker.get('counts', marker.get('reason'))}")


class PublishReporting(luigi.Task):
    """Export the marts for Metabase without ever locking the warehouse it reads."""

    date: dt.date = luigi.DateParameter(batch_method=max)
    resources = {"warehouse": 1}

    def requires(self) -> DbtBuild:
        return DbtBuild(date=self.date)

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(current_lake().publish_marker(self.date)))

    def complete(self) -> bool:
        if not self.requires().complete():
            return False
        the_lake = current_lake()
        built = latest_marker(the_lake.dbt_runs_dir, "run_results.json")
        published = latest_marker(the_lake.staged / "published", "manifest.json")
        if built is None or published is None:
            return False
        if unreadable_reason(the_lake.reporting_db) is not None:
            return False  # Metabase cannot open it: publish again (which rewrites it)
        return published[1].get("build_id") == built[1].get("build_id")

    def report_mart(self, done: int, total: int, name: str) -> None:
        """One mart is being exported: the visualiser shows "publish 3/9: fct_plays"."""
        report_progress(self, 100 * done / max(total, 1), f"publish {done + 1}/{total}: {name}")

    def run(self) -> None:
        the_lake = current_lake()
        built = latest_marker(the_lake.dbt_runs_dir, "run_results.json")
        assert built is not None  # guaranteed by requires()
        with timed_result(self, "reporting", self.date) as result:
            marts = (
                publish_marts(the_lake, on_mart=self.report_mart)
                if the_lake.warehouse.exists()
                else {}
            )
            result["rows"] = sum(marts.values())
            write_json_atomic(
                self.output().path,
                {
                    "marts": marts,
                    "build_id": built[1].get("build_id"),
                    "reporting_db": str(the_lake.reporting_db),
                },
            )
        status_message(self, f"published {len(marts)} marts")
