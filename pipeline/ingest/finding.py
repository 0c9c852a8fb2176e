"""Which files of the paths a user gave are Spotify export files (names only, nothing parsed).

Its own module, without Arrow or DuckDB: ``music-tracker import`` asks it in the command's own
process, which then waits for the import child and runs dbt beside it; the parser's imports
there would stay in that process for the whole build (measured: ~35 MB of its ~65 MB).
"""

from __future__ import annotations

import fnmatch
from pathlib import Path, PurePosixPath

from pipeline.settings import get_settings


def is_export_name(name: str) -> bool:
    """Whether a file name is one of Spotify's streaming-history files."""
    base = PurePosixPath(name).name
    return any(fnmatch.fnmatch(base, p) for p in get_settings().import_.patterns)


def find_export_files(paths: list[Path]) -> list[Path]:
    """Expand folders into the export files and zips they hold, sorted and without repeats."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and (child.suffix == ".zip" or is_export_name(child.name)):
                    found.append(child)
        else:
            found.append(path)
    unique: dict[Path, Path] = {}  # resolved -> first path given for it, in order
    for p in found:
        unique.setdefault(p.resolve(), p)
    return list(unique.values())
