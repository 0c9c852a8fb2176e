"""Run the benchmark scenarios and write ``bench/results/*.json`` plus a Markdown table.

    uv run python -m bench.run --sizes 100k,1M          # median of 3 runs per scenario
    uv run python -m bench.run --sizes 100k --quick     # 1 run each

Scenarios (each measured as a separate process tree: wall s, CPU s, peak RSS and PSS of the
whole tree, dbt included):

1. ``full@<size>``: ``music-tracker import`` of the whole history into an empty lake (raw copy,
   parse, stage every day, dbt build, publish);
2. ``cycle@1M``: the 30-minute cron cycle on that warehouse: the product's poll
   (``PollRecentlyPlayed``, as ``music-tracker cron poll`` runs it) replaying a cassette of 50
   new plays (``bench.steps poll-cassette``), then ``music-tracker build`` (the day's
   enrichment with nothing new to fetch, incremental dbt, publish); wall = poll + build,
   peak memory = the larger of the two process trees;
3. ``noop@1M``: the same cycle with nothing new: every task complete, no dbt process started;
   ``quietpoll@1M``: ``music-tracker cron poll`` with nothing new (polling off: no network),
   what most 30-minute runs are, its notifications' status included;
4. ``cards@1M``: every dashboard card's SQL on the reporting DB (ms per card), in the product's
   DuckDB and in the one Metabase's driver bundles;
5. ``floor@<size>``: DuckDB alone reading the export JSON into one deduplicated Parquet file;
   the full build is reported as a ratio to it.

The cycle/no-op/cards scenarios run on the largest size given. No measured process can reach
the network: every service's base URL points at a closed local port (``OFFLINE``), and the
poll step's Spotify calls are answered by its cassette.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb

from bench import cgroup
from bench.histories import CACHE, history
from bench.proctree import TreeRun, run_tree
from bench.steps import DRIVER_SUFFIX
from pipeline.warehouse.warm import CHILD
from tests.metabase_duckdb import METABASE_DUCKDB

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"

#: Targets on a 2-core machine (issue 11): the verdict rows of the Markdown table read them.
TARGETS = {
    "full@1M": {"floor_ratio": 4.0, "pss_mb": 400.0},
    "cycle": {"wall_s": 5.0, "pss_mb": 300.0},
    "noop": {"wall_s": 0.5},
    "cards": {"ms": 100.0},
    "maloja": {"ratio": 10.0},
}


#: Every service the pipeline can call, at a closed local port: a request the bench did not
#: expect fails at once instead of reaching the network (the poll step sets its own, cassette,
#: hosts for Spotify).
OFFLINE = {
    "MUSIC_TRACKER__SPOTIFY__API_BASE_URL": "http://127.0.0.1:9/v1",
    "MUSIC_TRACKER__SPOTIFY__ACCOUNTS_BASE_URL": "http://127.0.0.1:9",
    "MUSIC_TRACKER__SPOTIFY_CATALOGUE__BASE_URL": "http://127.0.0.1:9/v1",
    "MUSIC_TRACKER__MUSICBRAINZ__BASE_URL": "http://127.0.0.1:9",
    "MUSIC_TRACKER__NOMINATIM__DOMAIN": "127.0.0.1:9",
    "MUSIC_TRACKER__NOMINATIM__SCHEME": "http",
}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("MUSIC_TRACKER_ENV", "development")
    env["MUSIC_TRACKER_LOG_LEVEL"] = env.get("MUSIC_TRACKER_LOG_LEVEL", "INFO")
    env.update(OFFLINE)
    return env


def compile_bytecode() -> None:
    """Write .pyc files once for the environment and the project.

    This machine sets PYTHONDONTWRITEBYTECODE, so every process (dbt's included) would compile
    every module it imports on each start, ~1-3 s that a built image (``uv sync
    --compile-bytecode``) never pays. Compiled files are read even with that variable set.
    """
    import sysconfig

    targets = [sysconfig.get_paths()["purelib"], str(ROOT / "pipeline"), str(ROOT / "bench")]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "2", *targets],
        check=False,
        capture_output=True,
    )


def _cli(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", "--data-dir", str(data_dir), *args]


def _step(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.steps", *args]


#: ``--cgroup``: the memory limit (bytes) each measured command runs under, or None.
CGROUP_LIMIT: int | None = None
#: One row per command run under the limit: label, exit code and the kernel's counters.
CGROUP_RUNS: list[dict[str, Any]] = []


def _measure(
    cmd: list[str], label: str, *, limited: bool = True, env: dict[str, str] | None = None
) -> TreeRun:
    """Run and sample ``cmd``; under ``--cgroup`` (and ``limited``) in a fresh memory group.

    A failure raises, naming an out-of-memory kill as such (the kernel's ``oom_kill`` counter,
    or the process killed by SIGKILL) rather than leaving the reader to decode dbt's exit -9.
    """
    group = None
    if CGROUP_LIMIT is not None and limited:
        group = cgroup.MemoryCgroup(re.sub(r"\W", "-", label), CGROUP_LIMIT)
    try:
        run = run_tree(
            cmd,
            env={**_env(), **(env or {})},
            cwd=ROOT,
            preexec=group.join if group is not None else None,
        )
        if group is not None:
            kernel = group.result()
            run.cgroup = {"label": label, "returncode": run.returncode, **kernel.as_dict()}
            CGROUP_RUNS.append(run.cgroup)
            print(f"[bench] cgroup {label}: {run.cgroup}", flush=True)  # noqa: T201
    finally:
        if group is not None:
            group.close()
    if run.returncode != 0:
        tail = "\n".join((run.stderr or run.stdout).splitlines()[-30:])
        oom = ""
        if run.cgroup and (run.cgroup["oom_kills"] or run.returncode in (-9, 137)):
            oom = (
                f" OUT OF MEMORY in a {run.cgroup['limit_mib']:g} MiB cgroup "
                f"({run.cgroup['oom_kills']} OOM kill(s))"
            )
        raise RuntimeError(f"{label}: exit {run.returncode}{oom}\n{tail}")
    return run


def _log_messages(log: str) -> list[str]:
    """The message of each log line: JSON lines (the console format when not at a terminal)
    or text lines."""
    messages = []
    for line in log.splitlines():
        if line.startswith("{"):
            try:
                line = str(json.loads(line).get("msg", ""))
            except (ValueError, AttributeError):
                pass
        messages.append(line.split("msg=", 1)[-1])
    return messages


def task_seconds(log: str) -> dict[str, float]:
    """Seconds per task family from the pipeline's ``task=... seconds=...`` log lines."""
    totals: dict[str, float] = {}
    for line in _log_messages(log):
        if "task=" not in line or "seconds=" not in line:
            continue
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        try:
            totals[fields["task"]] = totals.get(fields["task"], 0.0) + float(fields["seconds"])
        except (KeyError, ValueError):
            continue
    return {k: round(v, 2) for k, v in totals.items()}


def is_dbt(process: str) -> bool:
    """Whether a process name (``proctree``) is dbt: its script, or the pipeline's dbt child."""
    return process.split(" ")[0] == "dbt" or " dbt " in f" {process} " or CHILD in process


def _sample(run: TreeRun) -> dict[str, Any]:
    return {
        "task_seconds": task_seconds(run.stderr),
        "wall_s": round(run.wall_s, 3),
        "cpu_s": round(run.cpu_s, 3),
        "peak_rss_mb": round(run.peak_rss_mb, 1),
        "peak_pss_mb": round(run.peak_pss_mb, 1),
        "dbt_started": any(is_dbt(n) for n in run.processes),
        "peak_rss_by_process_mb": run.peak_rss_by_process_mb,
        "cgroup": run.cgroup,
    }


def _median(samples: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("wall_s", "cpu_s", "peak_rss_mb", "peak_pss_mb")
    out: dict[str, Any] = {k: round(statistics.median(s[k] for s in samples), 3) for k in keys}
    out["dbt_started"] = any(s["dbt_started"] for s in samples)
    out["runs"] = len(samples)
    return out


def lake_dir(label: str) -> Path:
    return CACHE / "lakes" / label


def scenario_floor(label: str, folder: Path, runs: int) -> dict[str, Any]:
    out = CACHE / f"floor-{label}.parquet"
    samples = []
    for _ in range(runs):
        out.unlink(missing_ok=True)
        samples.append(_sample(_measure(_step("floor", str(folder), str(out)), "floor")))
    return {"scenario": f"floor@{label}", "samples": samples, **_median(samples)}


def scenario_full(label: str, folder: Path, runs: int) -> dict[str, Any]:
    samples = []
    lake = lake_dir(label)
    for _ in range(runs):
        if lake.exists():
            shutil.rmtree(lake)
        lake.mkdir(parents=True)
        samples.append(_sample(_measure(_cli(lake, "import", str(folder)), f"full@{label}")))
    return {"scenario": f"full@{label}", "samples": samples, **_median(samples)}


def _cycle_day() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def enrichment_runs(log: str) -> dict[str, int]:
    """Calls per enrichment run, from the ``<service>: N looked up with C calls`` lines."""
    runs = {}
    for message in _log_messages(log):
        found = re.match(r"(\w+): \d+ looked up with (\d+) calls", message)
        if found:
            runs[found.group(1)] = runs.get(found.group(1), 0) + int(found.group(2))
    return runs


def _cycle_sample(poll: TreeRun, build: TreeRun) -> dict[str, Any]:
    """One cycle: wall and CPU of both trees added, peak memory the larger tree's."""
    sample = _sample(build)
    polled = _sample(poll)
    for key in ("wall_s", "cpu_s"):
        sample[key] = round(polled[key] + sample[key], 3)
    for key in ("peak_rss_mb", "peak_pss_mb"):
        sample[key] = max(polled[key], sample[key])
    sample["poll_wall_s"] = polled["wall_s"]
    sample["poll_peak_rss_mb"] = polled["peak_rss_mb"]
    sample["task_seconds"] = {**polled["task_seconds"], **sample["task_seconds"]}
    by_process = dict(polled["peak_rss_by_process_mb"] or {})
    for name, mb in (sample["peak_rss_by_process_mb"] or {}).items():
        by_process[name] = max(mb, by_process.get(name, 0.0))
    sample["peak_rss_by_process_mb"] = by_process
    sample["enrichment_calls"] = enrichment_runs(build.stderr)
    return sample


def scenario_cycle(label: str, runs: int, seed: int) -> dict[str, Any]:
    """The 30-minute cycle: the product's poll from a cassette, then the day's pipeline.

    Each run first (not measured) makes the day's enrichment due again with nothing new to
    fetch (``bench.steps cycle-prep``), then measures ``bench.steps poll-cassette`` (50 new
    plays, a new seed per run) and ``music-tracker build --date <today>`` as two process trees.
    """
    lake = lake_dir(label)
    day = _cycle_day()
    samples = []
    for i in range(runs):
        _measure(_step("cycle-prep", str(lake), day.isoformat()), "cycle-prep", limited=False)
        poll = _measure(_step("poll-cassette", str(lake), str(seed + i)), "poll")
        build = _measure(_cli(lake, "build", "--date", day.isoformat()), f"cycle@{label}")
        sample = _cycle_sample(poll, build)
        calls = sample["enrichment_calls"]
        if sorted(calls) != ["musicbrainz", "nominatim", "spotify_api"] or any(calls.values()):
            raise RuntimeError(
                f"cycle@{label}: enrichment calls per service {calls}; the day's enrichment "
                "should have run with nothing new to fetch"
            )
        samples.append(sample)
    poll_wall = round(statistics.median(s["poll_wall_s"] for s in samples), 3)
    return {
        "scenario": f"cycle@{label}",
        "samples": samples,
        **_median(samples),
        "poll_wall_s": poll_wall,
    }


def scenario_noop(label: str, runs: int) -> dict[str, Any]:
    lake = lake_dir(label)
    day = _cycle_day()
    samples = [
        _sample(_measure(_cli(lake, "build", "--date", day.isoformat()), f"noop@{label}"))
        for _ in range(runs)
    ]
    return {"scenario": f"noop@{label}", "samples": samples, **_median(samples)}


def scenario_quiet_poll(label: str, runs: int) -> dict[str, Any]:
    """``music-tracker cron poll`` with nothing new, as most of a day's 48 runs are: polling off
    (the poll's one request to Spotify is not counted: no measured process reaches the network),
    the local scheduler (the bench runs no luigid), notifications from the status, no dbt."""
    lake = lake_dir(label)
    env = {
        "MUSIC_TRACKER__CRON__CENTRAL_SCHEDULER": "false",
        "MUSIC_TRACKER__SPOTIFY__ENABLED": "false",
    }
    samples = [
        _sample(_measure(_cli(lake, "cron", "poll"), f"quietpoll@{label}", env=env))
        for _ in range(runs)
    ]
    return {"scenario": f"quietpoll@{label}", "samples": samples, **_median(samples)}


def scenario_daily(label: str, runs: int) -> dict[str, Any]:
    """``music-tracker cron daily`` on the warehouse: gap filling over the window and the whole
    test suite (on the local scheduler: the bench runs no luigid)."""
    lake = lake_dir(label)
    local = {"MUSIC_TRACKER__CRON__CENTRAL_SCHEDULER": "false"}
    samples = [
        _sample(_measure(_cli(lake, "cron", "daily"), f"daily@{label}", env=local))
        for _ in range(runs)
    ]
    return {"scenario": f"daily@{label}", "samples": samples, **_median(samples)}


def scenario_rebuild(label: str, runs: int) -> dict[str, Any]:
    """``music-tracker rebuild`` of a lake that kept only ``raw/`` (a lost disk, ``raw/``
    restored from a backup): every export and poll landed again, staged, built with the whole
    suite and published.

    Each run gets a fresh lake beside the bench's, its ``raw/`` hard-linked (read, never
    written). On the bench's own lake, where everything is current, a rebuild has nothing to
    do: that took ~3 s and started no dbt, and was what this scenario measured until
    2026-12-07.
    """
    source = lake_dir(label) / "raw"
    lake = CACHE / "lakes" / f"{label}-rebuild"
    samples = []
    for _ in range(runs):
        if lake.exists():
            shutil.rmtree(lake)
        shutil.copytree(source, lake / "raw", copy_function=os.link)
        samples.append(_sample(_measure(_cli(lake, "rebuild"), f"rebuild@{label}")))
    shutil.rmtree(lake)
    return {"scenario": f"rebuild@{label}", "samples": samples, **_median(samples)}


def scenario_equal(label: str) -> dict[str, Any]:
    """The incremental warehouse (after the cycles) against a full refresh of the same data.

    The lake's staged data is copied into a lake of its own, built there with ``dbt build
    --full-refresh`` (``bench.compare``, measured), and every table of the marts and
    intermediate schemas of both warehouses compared, rows order-independent.
    """
    from bench.compare import mart_tables, warehouse_differences

    lake = lake_dir(label)
    full = CACHE / "lakes" / f"{label}-full-refresh"
    if full.exists():
        shutil.rmtree(full)
    shutil.copytree(
        lake / "staged", full / "staged", ignore=shutil.ignore_patterns("dbt_runs", "published")
    )
    run = _measure([sys.executable, "-m", "bench.compare", str(full)], f"equal@{label}")
    if run.returncode != 0:
        raise RuntimeError(f"equal@{label}: the full refresh failed (exit {run.returncode})")
    incremental = lake / "warehouse" / "build.duckdb"
    differences = warehouse_differences(incremental, full / "warehouse" / "build.duckdb")
    shutil.rmtree(full)
    return {
        "scenario": f"equal@{label}",
        "tables": len(mart_tables(incremental)),
        "differences": differences,
        "equal": not differences,
        "full_refresh_wall_s": _sample(run)["wall_s"],
    }


def scenario_cards(label: str) -> dict[str, Any]:
    """Every card in the product's DuckDB and in the Metabase driver's (``bench.steps.cards``)."""
    run = _measure(_step("cards", str(lake_dir(label))), f"cards@{label}")
    cards = json.loads(run.stdout.strip().splitlines()[-1])
    out: dict[str, Any] = {"scenario": f"cards@{label}", "cards": cards}
    for suffix in ("", DRIVER_SUFFIX):
        medians = [
            c[f"median_ms{suffix}"] for c in cards if c.get(f"median_ms{suffix}") is not None
        ]
        out[f"slowest_ms{suffix}"] = max(medians) if medians else None
        out[f"p50_ms{suffix}"] = round(statistics.median(medians), 1) if medians else None
    out["errors"] = [c for c in cards if c["error"] or c.get(f"error{DRIVER_SUFFIX}")]
    return out


def cards_verdict(cards: dict[str, Any], label: str) -> tuple[str, str, str]:
    """Every card ≤ the target in both engines: met only if each ran every card in time (a
    card that fails, or a driver's DuckDB that could not run, is not a fast card)."""
    limit = TARGETS["cards"]["ms"]
    slowest = [cards.get("slowest_ms"), cards.get(f"slowest_ms{DRIVER_SUFFIX}")]
    measured = " / ".join("not run" if v is None else f"{v:g} ms" for v in slowest)
    errors = len(cards.get("errors") or [])
    if errors:
        measured += f" ({errors} cards failed)"
    ok = not errors and all(v is not None and v <= limit for v in slowest)
    return (
        f"every card @{label} ≤ {limit:g} ms (duckdb {duckdb.__version__} / Metabase's "
        f"DuckDB {METABASE_DUCKDB})",
        measured,
        "yes" if ok else "**no**",
    )


def verdicts(results: dict[str, dict[str, Any]], biggest: str) -> list[tuple[str, str, str]]:
    """(target, measured, ok?) rows for the Markdown table."""
    rows: list[tuple[str, str, str]] = []

    def check(name: str, value: float | None, limit: float, unit: str) -> None:
        if value is None:
            return
        ok = "yes" if value <= limit else "**no**"
        rows.append((f"{name} ≤ {limit:g} {unit}", f"{value:g} {unit}", ok))

    full = results.get("full@1M")
    floor = results.get("floor@1M")
    if full:
        check(
            "1M full build peak PSS (tree)", full["peak_pss_mb"], TARGETS["full@1M"]["pss_mb"], "MB"
        )
        if floor:
            ratio = round(full["wall_s"] / floor["wall_s"], 1)
            check("1M full build / floor", ratio, TARGETS["full@1M"]["floor_ratio"], "×")
    cycle = results.get(f"cycle@{biggest}")
    if cycle:
        check(f"cycle@{biggest} wall", cycle["wall_s"], TARGETS["cycle"]["wall_s"], "s")
        check(
            f"cycle@{biggest} peak PSS (tree)",
            cycle["peak_pss_mb"],
            TARGETS["cycle"]["pss_mb"],
            "MB",
        )
    noop = results.get(f"noop@{biggest}")
    if noop:
        check(f"noop@{biggest} wall", noop["wall_s"], TARGETS["noop"]["wall_s"], "s")
        rows.append(
            (
                "no-op starts no dbt",
                str(not noop["dbt_started"]),
                "yes" if not noop["dbt_started"] else "**no**",
            )
        )
    quiet = results.get(f"quietpoll@{biggest}")
    if quiet:
        check(
            f"quiet cron poll@{biggest} wall (no network)",
            quiet["wall_s"],
            TARGETS["noop"]["wall_s"],
            "s",
        )
    equal = results.get(f"equal@{biggest}")
    if equal:
        rows.append(
            (
                f"incremental warehouse = full refresh @{biggest} ({equal['tables']} tables)",
                "equal" if equal["equal"] else ", ".join(sorted(equal["differences"])),
                "yes" if equal["equal"] else "**no**",
            )
        )
    cards = results.get(f"cards@{biggest}")
    if cards:
        rows.append(cards_verdict(cards, biggest))
    if CGROUP_RUNS:
        kills = sum(c["oom_kills"] for c in CGROUP_RUNS)
        failed = [c["label"] for c in CGROUP_RUNS if c["returncode"] != 0]
        limit = CGROUP_RUNS[0]["limit_mib"]
        rows.append(
            (f"OOM kills in {limit:g} MiB = 0", str(kills), "yes" if not kills else "**no**")
        )
        rows.append(
            (
                f"every command exits 0 in {limit:g} MiB",
                ", ".join(failed) or "all 0",
                "yes" if not failed else "**no**",
            )
        )
    for name, r in results.items():
        if name.startswith("maloja@") and r.get("ratio"):
            rows.append(
                (
                    f"{name.split('@')[1]} import ≥ {TARGETS['maloja']['ratio']:g}× faster "
                    "than Maloja",
                    f"{r['ratio']:g}×",
                    "yes" if r["ratio"] >= TARGETS["maloja"]["ratio"] else "**no**",
                )
            )
    return rows


def markdown(results: dict[str, dict[str, Any]], biggest: str, meta: dict[str, Any]) -> str:
    lines = [
        f"# Benchmark results ({meta['when']})",
        "",
        f"Machine: {meta['cpus']} CPUs, Python {meta['python']}, load average at start "
        f"{meta['loadavg']}. Runs per scenario: {meta['runs']} (median shown).",
        "",
        "| scenario | wall s | CPU s | peak RSS MB (tree) | peak PSS MB (tree) | dbt ran "
        "| vs floor |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    for name, r in results.items():
        if name.startswith(("cards", "maloja", "equal")):
            continue
        size = name.split("@")[1]
        floor = results.get(f"floor@{size}")
        ratio = f"{r['wall_s'] / floor['wall_s']:.1f}×" if floor and name.startswith("full") else ""
        lines.append(
            f"| {name} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['peak_rss_mb']:.0f} | "
            f"{r['peak_pss_mb']:.0f} | {'yes' if r['dbt_started'] else 'no'} | {ratio} |"
        )
    breakdown = [
        (
            name,
            r["samples"][0].get("task_seconds", {}),
            r["samples"][0].get("peak_rss_by_process_mb"),
        )
        for name, r in results.items()
        if "samples" in r and r["samples"][0].get("task_seconds")
    ]
    if breakdown:
        lines += ["", "Seconds per task (first run) and peak RSS per process (MB):", ""]
        for name, tasks, procs in breakdown:
            parts = ", ".join(f"{k} {v:g}" for k, v in sorted(tasks.items(), key=lambda x: -x[1]))
            top = sorted((procs or {}).items(), key=lambda x: -x[1])[:3]
            mem = ", ".join(f"`{k}` {v:.0f}" for k, v in top)
            lines.append(f"- {name}: {parts}; memory: {mem}")
    for name, r in results.items():
        if name.startswith("maloja@"):
            lines += [
                "",
                f"Side by side on the same files ({name}, A/B alternated, median of "
                f"{len(r['maloja'])}): `music-tracker import` {r['music_tracker_wall_s']:.1f} s, "
                f"Maloja {r['maloja_version']} `maloja import` {r['maloja_wall_s']:.1f} s "
                f"({r['maloja_scrobbles']} scrobbles): **{r['ratio']:.1f}×**.",
            ]
    cards = results.get(f"cards@{biggest}")
    if cards:
        lines += [
            "",
            f"Dashboard cards on the {biggest} reporting DB (ms; duckdb {duckdb.__version__}, "
            f"then DuckDB {METABASE_DUCKDB} as Metabase's driver runs them):",
            "",
        ]
        lines += [
            "| card | first | median | Metabase first | Metabase median |",
            "|---|---:|---:|---:|---:|",
        ]
        for c in cards["cards"]:
            errors = [
                f"error{' in ' + METABASE_DUCKDB if sfx else ''}: {c.get('error' + sfx)}"
                for sfx in ("", DRIVER_SUFFIX)
                if c.get("error" + sfx)
            ]
            lines.append(
                f"| {c['card']} | {c['first_ms']} | {c['median_ms']} | "
                f"{c.get('first_ms' + DRIVER_SUFFIX)} | {c.get('median_ms' + DRIVER_SUFFIX)} |"
                + (" " + "; ".join(errors) if errors else "")
            )
        lines.append(
            f"| **slowest / p50** | | {cards['slowest_ms']} / {cards['p50_ms']} | | "
            f"{cards.get('slowest_ms' + DRIVER_SUFFIX)} / {cards.get('p50_ms' + DRIVER_SUFFIX)} |"
        )
    if CGROUP_RUNS:
        lines += [
            "",
            "Under a memory cgroup (v1, `memory.limit_in_bytes`, no swap; Docker's `-m`), one "
            "fresh group per command:",
            "",
            "| command | exit | limit MiB | max usage MiB | failcnt (mem / +swap) | OOM kills |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {c['label']} | {c['returncode']} | {c['limit_mib']:g} | {c['max_usage_mib']:.0f} "
            f"| {c['failcnt']} / {c['memsw_failcnt']} | {c['oom_kills']} |"
            for c in CGROUP_RUNS
        ]
    rows = verdicts(results, biggest)
    if rows:
        lines += ["", "| target | measured | met |", "|---|---|---|"]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines) + "\n"


SCENARIOS = "floor,full,cycle,equal,noop,daily,cards,rebuild"


def main(argv: list[str] | None = None) -> int:
    global CGROUP_LIMIT  # noqa: PLW0603 - one run's setting, read by _measure
    parser = argparse.ArgumentParser(description="Music Tracker benchmarks")
    parser.add_argument("--sizes", default="100k,1M", help="history sizes, e.g. 100k,1M")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario (median)")
    parser.add_argument("--quick", action="store_true", help="one run per scenario")
    parser.add_argument("--seed", type=int, default=42, help="history generator seed")
    parser.add_argument(
        "--scenarios",
        default=SCENARIOS,
        help=f"comma-separated subset of {SCENARIOS},maloja (maloja: opt-in peer, see README)",
    )
    parser.add_argument(
        "--cgroup",
        metavar="LIMIT",
        help="run every measured command in a fresh cgroup v1 memory group of this size "
        "(e.g. 400M, Docker's -m 400m) and report its peak, failcnt and OOM kills",
    )
    args = parser.parse_args(argv)
    runs = 1 if args.quick else args.runs
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    wanted = set(args.scenarios.split(","))
    biggest = sizes[-1]
    if args.cgroup:
        reason = cgroup.unavailable_reason()
        if reason:
            print(f"[bench] --cgroup {args.cgroup} skipped: {reason}", flush=True)  # noqa: T201
        else:
            CGROUP_LIMIT = cgroup.parse_size(args.cgroup)
    meta = {
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "runs": runs,
        "seed": args.seed,
        "cgroup_limit_bytes": CGROUP_LIMIT,
    }
    compile_bytecode()
    results: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}

    def attempt(name: str, scenario: Any, *scenario_args: Any) -> None:
        """Run one scenario; under a cgroup a failure (an OOM kill) is a result, not the end."""
        try:
            results[name] = scenario(*scenario_args)
        except RuntimeError as exc:
            if CGROUP_LIMIT is None:
                raise
            errors[name] = str(exc).splitlines()[0]
            print(f"[bench] {name} FAILED: {errors[name]}", flush=True)  # noqa: T201
            return
        shown = results[name].get("wall_s", results[name].get("ratio", results[name].get("equal")))
        print(f"[bench] {name}: {shown}", flush=True)  # noqa: T201

    for size in sizes:
        folder = history(size, args.seed)
        print(f"[bench] {size}: history in {folder}", flush=True)  # noqa: T201
        if "floor" in wanted:
            attempt(f"floor@{size}", scenario_floor, size, folder, runs)
        if "full" in wanted or not (lake_dir(size) / "warehouse").exists():
            attempt(f"full@{size}", scenario_full, size, folder, runs)
        if "maloja" in wanted:
            from bench import maloja

            attempt(f"maloja@{size}", maloja.scenario_maloja, size, folder, runs, _measure)
    if "cycle" in wanted:
        attempt(f"cycle@{biggest}", scenario_cycle, biggest, runs, args.seed)
    if "equal" in wanted:
        attempt(f"equal@{biggest}", scenario_equal, biggest)
    if "noop" in wanted:
        attempt(f"noop@{biggest}", scenario_noop, biggest, max(runs, 3))
        attempt(f"quietpoll@{biggest}", scenario_quiet_poll, biggest, max(runs, 3))
    if "daily" in wanted:
        attempt(f"daily@{biggest}", scenario_daily, biggest, runs)
    if "cards" in wanted:
        attempt(f"cards@{biggest}", scenario_cards, biggest)
    if "rebuild" in wanted:
        attempt(f"rebuild@{biggest}", scenario_rebuild, biggest, runs)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {
        "meta": meta,
        "results": results,
        "errors": errors,
        "cgroup_runs": CGROUP_RUNS,
        "verdicts": verdicts(results, biggest),
    }
    (RESULTS / f"bench-{stamp}.json").write_text(json.dumps(payload, indent=2), "utf-8")
    table = markdown(results, biggest, meta)
    if errors:
        table += "\nFailed scenarios:\n\n" + "".join(f"- {k}: {v}\n" for k, v in errors.items())
    (RESULTS / "latest.md").write_text(table, encoding="utf-8")
    print(table)  # noqa: T201
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
