"""DuckDB as Metabase runs it: the version the pinned DuckDB driver bundles, in its own env.

Metabase reads ``reporting.duckdb`` through metabase_duckdb_driver, which bundles its own
DuckDB (1.5.3 in driver 1.5.3.0), while the product runs the newer ``duckdb`` of ``uv.lock``.
A query the product's DuckDB accepts may not bind in the driver's (a function or setting it
lacks), and the file format must be readable by both; so the tests and the benchmarks run
Metabase's side in that version. It cannot live in the project's environment (one ``duckdb``
per environment), so ``ensure_env`` makes a separate venv with uv.

This file is also the script that environment runs (``python tests/metabase_duckdb.py DB``,
the cards as JSON on stdin): it needs only the standard library and ``duckdb``, so
``run_cards`` is one timing loop for both engines (``bench.steps.cards`` calls it in-process).
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

DOCKERFILE = Path(__file__).resolve().parents[1] / "docker" / "metabase" / "Dockerfile"


def _driver_duckdb() -> str:
    """The DuckDB version the pinned driver bundles: its release is ``<duckdb>.<build>``
    (1.5.3.0 bundles 1.5.3), so a driver bump in the Dockerfile moves these checks with it."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    match = re.search(r"^ARG METABASE_DUCKDB_DRIVER_VERSION=(\d+\.\d+\.\d+)\.\d+\s*$", text, re.M)
    if match is None:
        raise RuntimeError(f"no METABASE_DUCKDB_DRIVER_VERSION=<x.y.z.n> in {DOCKERFILE}")
    return match.group(1)


#: The DuckDB bundled by the pinned Metabase driver (metabase_duckdb_driver 1.5.3.0).
METABASE_DUCKDB = _driver_duckdb()


class Unavailable(RuntimeError):
    """uv is missing or could not install the driver's DuckDB (offline, no wheel)."""


def uv_command() -> list[str] | None:
    """How to call uv here (on PATH, or as ``python -m uv``), or None."""
    if shutil.which("uv"):
        return ["uv"]
    probe = subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True)
    return [sys.executable, "-m", "uv"] if probe.returncode == 0 else None


def ensure_env(venv: Path) -> Path:
    """A venv at ``venv`` with ``duckdb==METABASE_DUCKDB`` (and ``pytz``); its Python's path.

    That DuckDB's Python client needs ``pytz`` to return a TIMESTAMPTZ value (the card of poll
    gaps has some as soon as a gap is recorded); Metabase's JDBC driver does not. Reused when
    its stamp names the same version (the bench keeps one under bench/.cache/); raises
    Unavailable when uv is missing or the install fails.
    """
    python = venv / "bin" / "python"
    stamp = venv / f".duckdb-{METABASE_DUCKDB}-pytz"
    if python.exists() and stamp.exists():
        return python
    uv = uv_command()
    if uv is None:
        raise Unavailable(f"uv is not available to install duckdb=={METABASE_DUCKDB}")
    if venv.exists():
        shutil.rmtree(venv)
    for args in (
        ["venv", "--quiet", "--python", sys.executable, str(venv)],
        [
            "pip",
            "install",
            "--quiet",
            "--python",
            str(python),
            f"duckdb=={METABASE_DUCKDB}",
            "pytz",
        ],
    ):
        done = subprocess.run([*uv, *args], capture_output=True, text=True)  # noqa: S603
        if done.returncode != 0:
            raise Unavailable(f"could not install duckdb=={METABASE_DUCKDB}: {done.stderr[-300:]}")
    stamp.write_text(METABASE_DUCKDB, encoding="utf-8")
    return python


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def run_cards(
    con: duckdb.DuckDBPyConnection, cards: dict[str, str], repeats: int = 5
) -> list[dict[str, Any]]:
    """Run each card ``repeats`` times: ms of the first run and the median, the first run's
    column names and row count, or the first line of the error that stopped it."""
    results = []
    for name, sql in cards.items():
        times: list[float] = []
        columns: list[str] | None = None
        rows: int | None = None
        error = None
        for _ in range(repeats):
            started = time.perf_counter()
            try:
                fetched = con.execute(sql).fetchall()
            except duckdb.Error as exc:
                error = str(exc).splitlines()[0]
                break
            times.append((time.perf_counter() - started) * 1000)
            if columns is None:
                columns = [d[0] for d in con.description or []]
                rows = len(fetched)
        results.append(
            {
                "card": name,
                "first_ms": round(times[0], 1) if times else None,
                "median_ms": round(statistics.median(times), 1) if times else None,
                "error": error,
                "columns": columns,
                "rows": rows,
            }
        )
    return results


def connect(database: Path, settings: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    """``database`` read-only, as Metabase opens it, with ``settings`` applied (``SET``)."""
    con = duckdb.connect(str(database), read_only=True)
    for key, value in settings.items():
        con.execute(f"set {key} = {_literal(value)}")
    return con


def run_cards_in(
    python: Path,
    database: Path,
    cards: dict[str, str],
    settings: dict[str, Any],
    repeats: int = 5,
    timeout: float = 600,
) -> dict[str, Any]:
    """``run_cards`` in the driver's DuckDB (``python`` from ``ensure_env``), a process of its
    own: ``{"version": ..., "cards": [...]}``. A card that fails is in its row's ``error``;
    a process that fails (the file does not open in that version) raises RuntimeError."""
    done = subprocess.run(  # noqa: S603
        [str(python), str(Path(__file__).resolve()), str(database), str(repeats)],
        input=json.dumps({"cards": cards, "settings": settings}),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"DuckDB {METABASE_DUCKDB} on {database} failed: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str]) -> int:
    """The script side of ``run_cards_in``: DB and repeats as arguments, the cards on stdin."""
    request = json.loads(sys.stdin.read())
    con = connect(Path(argv[0]), request["settings"])
    try:
        cards = run_cards(con, request["cards"], int(argv[1]))
    finally:
        con.close()
    print(json.dumps({"version": duckdb.__version__, "cards": cards}))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
