"""The optional ``maloja`` scenario: Maloja 3.2.3's ``maloja import`` beside ours, A/B.

Maloja (a self-hosted scrobble server) imports the same Extended Streaming History files: given
one ``Streaming_History_Audio_*.json`` it offers to import every such file of the folder (we
answer yes on stdin) into its SQLite database under ``MALOJA_DATA_DIRECTORY``. It runs from its
own venv (``bench/.cache/maloja-venv``, made on first use with ``python3 -m venv`` and pip from
PyPI), never the project's environment.

Runs alternate the order (A then B, B then A, ...) so that neither side always gets the warm
page cache or the quieter minute; each side starts from an empty store every run. The ratio is
Maloja's median wall time over ``music-tracker import``'s. What each does is not the same work:
Maloja keeps plays of 30 s or more and cleans artist names; we keep every row (plays, skips,
podcasts as quarantine/other rows), stage, build the warehouse with its tests and publish.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.histories import CACHE

VERSION = "3.2.3"
VENV = CACHE / "maloja-venv"
#: Maloja has third-party image/metadata fetchers; any request it might make fails at once.
NO_NETWORK = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "",
}


def ensure_venv(venv: Path = VENV) -> Path:
    """``maloja`` from ``malojaserver==3.2.3`` in its own venv; the executable's path."""
    exe = venv / "bin" / "maloja"
    stamp = venv / f".malojaserver-{VERSION}"
    if exe.exists() and stamp.exists():
        return exe
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # noqa: S603
    subprocess.run(  # noqa: S603
        [str(venv / "bin" / "pip"), "install", "-q", f"malojaserver=={VERSION}"], check=True
    )
    stamp.write_text(VERSION, encoding="utf-8")
    return exe


def import_command(exe: Path, folder: Path) -> list[str]:
    """``maloja import`` of the whole folder, answering its "import all files?" prompt."""
    first = sorted(folder.glob("Streaming_History_Audio_*.json"))[0]
    return ["sh", "-c", 'echo y | exec "$0" import "$1"', str(exe), str(first)]


def imported(stdout: str) -> int:
    """Scrobbles Maloja says it imported (it exits 0 even when it imported nothing)."""
    for line in reversed(stdout.splitlines()):
        if "Successfully imported" in line:
            return int(line.split("imported", 1)[1].split()[0])
    return 0


def scenario_maloja(
    label: str, folder: Path, runs: int, measure: Callable[..., Any]
) -> dict[str, Any]:
    """A/B of ``maloja import`` and ``music-tracker import`` on ``folder``, ``runs`` each."""
    from bench.run import _cli, _sample, lake_dir

    exe = ensure_venv()
    store = CACHE / f"maloja-data-{label}"
    lake = lake_dir(f"{label}-ab")
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []

    def run_ours() -> None:
        if lake.exists():
            shutil.rmtree(lake)
        lake.mkdir(parents=True)
        ours.append(_sample(measure(_cli(lake, "import", str(folder)), f"ab-ours@{label}")))

    def run_theirs() -> None:
        if store.exists():
            shutil.rmtree(store)
        store.mkdir(parents=True)
        env = {"MALOJA_DATA_DIRECTORY": str(store), **NO_NETWORK}
        run = measure(import_command(exe, folder), f"ab-maloja@{label}", env=env)
        sample = _sample(run)
        sample["scrobbles"] = imported(run.stdout)
        if not sample["scrobbles"]:
            raise RuntimeError(f"maloja@{label}: imported nothing\n{run.stdout[-2000:]}")
        theirs.append(sample)

    for i in range(runs):
        for step in (run_ours, run_theirs) if i % 2 == 0 else (run_theirs, run_ours):
            step()
    ours_wall = statistics.median(s["wall_s"] for s in ours)
    theirs_wall = statistics.median(s["wall_s"] for s in theirs)
    return {
        "scenario": f"maloja@{label}",
        "maloja_version": VERSION,
        "music_tracker": ours,
        "maloja": theirs,
        "music_tracker_wall_s": round(ours_wall, 3),
        "maloja_wall_s": round(theirs_wall, 3),
        "maloja_scrobbles": theirs[0]["scrobbles"],
        "ratio": round(theirs_wall / ours_wall, 2),
    }
