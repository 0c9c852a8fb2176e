"""Synthetic listening histories for the benchmarks: deterministic by seed, cached on disk.

The rows come from the product's own generator (``pipeline.demo.generate``): the real Extended
Streaming History format, Zipf-like popularity over artists and tracks, sessions at plausible
hours, skips, shuffle, offline plays, podcasts, local files, ~15,000 rows per file. A size
maps to a catalogue that fits it (a heavy listener's ten years: ~1M plays over ~40,000 tracks
and ~6,000 artists).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.demo.generate import generate_plays, write_export

CACHE = Path(__file__).resolve().parent / ".cache"


@dataclass(frozen=True)
class HistorySpec:
    """What to generate for one size."""

    plays: int
    artists: int
    tracks_per_artist: int
    start: dt.date = dt.date(2016, 1, 1)
    end: dt.date = dt.date(2025, 12, 31)
    rows_per_file: int = 15_000


SIZES = {
    "10k": HistorySpec(10_000, artists=600, tracks_per_artist=7),
    "100k": HistorySpec(100_000, artists=2_000, tracks_per_artist=7),
    "1M": HistorySpec(1_000_000, artists=6_000, tracks_per_artist=7),
}


def parse_size(label: str) -> HistorySpec:
    """'100k', '1M' (or a plain number of plays)."""
    if label in SIZES:
        return SIZES[label]
    text = label.lower()
    factor = 1_000_000 if text.endswith("m") else 1_000 if text.endswith("k") else 1
    plays = int(float(text.rstrip("mk")) * factor)
    return HistorySpec(plays, artists=max(50, plays // 170), tracks_per_artist=7)


def history(label: str, seed: int = 42, cache: Path = CACHE) -> Path:
    """The folder of export files for ``label`` (generated once, then reused)."""
    spec = parse_size(label)
    folder = cache / "histories" / f"{label}-seed{seed}"
    stamp = folder / "spec.json"
    wanted = json.dumps({"seed": seed, **asdict(spec)}, default=str, sort_keys=True)
    if stamp.exists() and stamp.read_text(encoding="utf-8") == wanted:
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    tmp = folder.with_name(folder.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    rows = generate_plays(
        spec.plays,
        spec.start,
        spec.end,
        seed=seed,
        n_artists=spec.artists,
        tracks_per_artist=spec.tracks_per_artist,
    )
    write_export(rows, tmp, spec.rows_per_file)
    (tmp / "spec.json").write_text(wanted, encoding="utf-8")
    tmp.rename(folder)
    return folder


def export_files(folder: Path) -> list[Path]:
    """The export files of a history folder, in order."""
    return sorted(folder.glob("Streaming_History_Audio_*.json"))
