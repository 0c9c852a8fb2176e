"""The slow fault-injection suite: seeded SIGKILL trials through the whole pipeline, dbt included.

    uv run python -m bench.faults --trials 24 --seed 1

Each trial imports a small synthetic history into an empty lake with ``music-tracker import``
and kills it (SIGKILL, no cleanup) at a seeded point: while parsing the JSON, half-way through
a Parquet write, just before or after a rename, during the dbt build (dbt killed too), or while
the marts are published. Then it reruns the same command once and checks that

* the rerun succeeds,
* the warehouse equals an uninterrupted run's (row count of every mart and an MD5 of every
  ``fct_plays`` row),
* no file a reader's ``*.parquet`` glob sees is unreadable (no half files),

and records leftover temp files (invisible to readers). A final trial starts two imports of
the same files at once. Results go to ``bench/results/faults-<time>.json`` and a summary line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pipeline.demo.generate import generate_plays, write_export
from tests.faults.helpers import (
    REPO,
    run_killer,
    temp_leftovers,
    unreadable_visible_files,
    warehouse_summary,
)

RESULTS = Path(__file__).resolve().parent / "results"
WORK = Path(__file__).resolve().parent / ".cache" / "faults"
POINTS = ("parse", "write", "replace", "after-replace", "dbt", "publish")


def _history(folder: Path) -> Path:
    if not folder.exists():
        tmp = folder.with_name(folder.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        rows = generate_plays(3000, dt.date(2025, 1, 1), dt.date(2025, 2, 28), seed=11)
        write_export(rows, tmp, rows_per_file=1000)
        tmp.rename(folder)
    return folder


def _import(lake: Path, history: Path, point: str = "none", at: int = 1) -> int:
    args = ["--point", point, "--at", str(at), "--", "--data-dir", str(lake), "import"]
    return run_killer([*args, str(history)]).returncode


def trial(n: int, rng: random.Random, history: Path, reference: dict[str, Any]) -> dict[str, Any]:
    """One kill-and-rerun trial."""
    point = POINTS[n % len(POINTS)]
    at = {"parse": rng.randint(1, 3), "publish": rng.randint(1, 6)}.get(point, rng.randint(1, 60))
    lake = WORK / f"trial-{n}"
    shutil.rmtree(lake, ignore_errors=True)
    lake.mkdir(parents=True)
    started = time.monotonic()
    killed_code = _import(lake, history, point, at)
    half_files = [str(p) for p in unreadable_visible_files(lake)]
    rerun_code = _import(lake, history)
    same = rerun_code == 0 and warehouse_summary(lake) == reference
    after = [str(p) for p in unreadable_visible_files(lake)]
    outcome = {
        "trial": n,
        "point": point,
        "at": at,
        "killed": killed_code == -signal.SIGKILL,
        "killed_exit": killed_code,
        "rerun_exit": rerun_code,
        "warehouse_equal": same,
        "unreadable_visible_after_kill": half_files,
        "unreadable_visible_after_rerun": after,
        "temp_leftovers": len(temp_leftovers(lake)),
        "seconds": round(time.monotonic() - started, 1),
    }
    outcome["survived"] = same and not half_files and not after
    shutil.rmtree(lake, ignore_errors=True)
    return outcome


def concurrent(history: Path, reference: dict[str, Any]) -> dict[str, Any]:
    """Two imports of the same files started at once; then one more run to settle."""
    lake = WORK / "concurrent"
    shutil.rmtree(lake, ignore_errors=True)
    lake.mkdir(parents=True)
    cmd = [sys.executable, "-m", "pipeline.cli", "--data-dir", str(lake), "import", str(history)]
    procs = [
        subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [p.communicate(timeout=1800) for p in procs]
    codes = [p.returncode for p in procs]
    errors = [err.strip().splitlines()[-1] if err.strip() else "" for _, err in results]
    equal_now = 0 in codes and warehouse_summary(lake) == reference
    settle = _import(lake, history)
    outcome = {
        "exits": codes,
        "last_stderr_lines": errors,
        "warehouse_equal_after_both": equal_now,
        "warehouse_equal_after_rerun": settle == 0 and warehouse_summary(lake) == reference,
        "unreadable_visible": [str(p) for p in unreadable_visible_files(lake)],
    }
    outcome["survived"] = (
        outcome["warehouse_equal_after_rerun"] and not outcome["unreadable_visible"]
    )
    shutil.rmtree(lake, ignore_errors=True)
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="SIGKILL fault-injection trials")
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-concurrent", action="store_true")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    history = _history(WORK / "history")
    ref_lake = WORK / "reference"
    shutil.rmtree(ref_lake, ignore_errors=True)
    ref_lake.mkdir()
    if _import(ref_lake, history) != 0:
        raise SystemExit("the uninterrupted reference run failed")
    reference = warehouse_summary(ref_lake)
    rng = random.Random(args.seed)
    outcomes = []
    for n in range(args.trials):
        outcome = trial(n, rng, history, reference)
        outcomes.append(outcome)
        print(json.dumps(outcome), flush=True)  # noqa: T201
    both = None if args.no_concurrent else concurrent(history, reference)
    if both:
        print(json.dumps({"concurrent": both}), flush=True)  # noqa: T201
    survived = sum(o["survived"] for o in outcomes)
    killed = sum(o["killed"] for o in outcomes)
    summary = {
        "trials": len(outcomes),
        "killed": killed,
        "survived": survived,
        "by_point": {p: [o["survived"] for o in outcomes if o["point"] == p] for p in POINTS},
        "concurrent": both,
        "reference": reference,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"faults-{stamp}.json").write_text(
        json.dumps({"summary": summary, "trials": outcomes}, indent=2), encoding="utf-8"
    )
    print(  # noqa: T201
        f"{survived}/{len(outcomes)} kill trials survived ({killed} actually killed); "
        f"concurrent imports: {'survived' if both and both['survived'] else both}"
    )
    return 0 if survived == len(outcomes) and (both is None or both["survived"]) else 1


if __name__ == "__main__":
    sys.exit(main())
