"""What a day of plays is staged from, and whether its partition was built from exactly that.

Inputs are found, not required: the import units whose provenance lists the day (their
``dates``), and the poll files under ``staged/polls/v1/account=*/date=D/``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from pipeline.ingest.units import provenance_dates
from pipeline.io.atomic import write_json_atomic
from pipeline.io.kept import holds, kept
from pipeline.io.kept import peek as peek_kept
from pipeline.io.markers import files_fingerprint, fingerprint
from pipeline.io.parquet import read_provenance
from pipeline.paths import Lake
from pipeline.transform.dedupe import show_key, shows_digest

#: Days of plays -> the staged files holding them (sorted, deterministic).
InputIndex = dict[dt.date, list[Path]]


class StagingInputError(RuntimeError):
    """A staged input cannot be read; staging stops rather than drop its plays."""


@dataclass
class _Known:
    """What was found of one state of a lake's staged inputs: the index, then the shows."""

    index: InputIndex
    shows: set[tuple[str, str]] | None = None


#: The group of the answers staging keeps (``io.kept``).
KEPT_GROUP = "staging"


def _slot(the_lake: Lake) -> tuple[str, str]:
    """Where ``io.kept`` holds what was found of this lake's inputs."""
    return (KEPT_GROUP, str(the_lake.root))


def _known(the_lake: Lake) -> _Known:
    """The index of the inputs as they are now, kept (``io.kept``) while the import units and
    poll files are unchanged: one command asks many times (a poll's checks of the days it
    staged, a build's checks of every task), and each asking re-read ~70 unit footers, listed
    every poll file and stat-ed every input, which grows with the poll files (~17,000 a year).
    """
    stamp = (fingerprint(the_lake.import_units_dir), fingerprint(the_lake.polls_dir))
    return kept(_slot(the_lake), repr(stamp), lambda: _Known(_index_inputs(the_lake)))


def inputs_known(the_lake: Lake) -> bool:
    """Whether this process has made the input index of this lake (for some state of it)."""
    return holds(_slot(the_lake))


def inputs_by_date(the_lake: Lake) -> InputIndex:
    """Map every UTC day that has plays to the files holding them (sorted, deterministic).

    Callers must not change what they get: it is kept for the next call (``_known``).
    """
    return _known(the_lake).index


def _index_inputs(the_lake: Lake) -> InputIndex:
    """``inputs_by_date`` made afresh: each unit's days from its provenance, each poll file's
    day from its folder."""
    found: InputIndex = defaultdict(list)
    if the_lake.import_units_dir.exists():
        for unit in sorted(the_lake.import_units_dir.glob("*.parquet")):
            prov = read_provenance(unit)  # one footer read per unit: ~70 at a ten-year import
            if prov is None:
                # Skipping it would silently drop its plays from every day it covers.
                raise StagingInputError(
                    f"{unit} is unreadable (corrupt or truncated); run `music-tracker rebuild` "
                    "to re-create it from raw/ (nothing else is changed until then)"
                )
            for day in provenance_dates(prov):
                found[dt.date.fromisoformat(day)].append(unit)
    if the_lake.polls_dir.exists():
        for poll in sorted(the_lake.polls_dir.glob("account=*/date=*/*.parquet")):
            day = poll.parent.name.removeprefix("date=")
            found[dt.date.fromisoformat(day)].append(poll)
    return {day: sorted(paths) for day, paths in found.items()}


def inputs_fingerprint(the_lake: Lake, paths: list[Path]) -> str:
    """What a partition's provenance records of its inputs (``inputs``): the fingerprint of
    those files (``io.markers.files_fingerprint``, the format every completeness check uses)."""
    return files_fingerprint(the_lake.staged, paths)


#: Per staged input file (path below ``staged/``), its size, mtime and the podcast shows it
#: names: kept between runs, so a check reads only the files that are new since the last one.
SHOWS_CACHE_VERSION = 1


def shows_cache_file(the_lake: Lake) -> Path:
    """Where the podcast shows of each staged input are kept (``podcast_shows``)."""
    return the_lake.state / "podcast_shows.json"


def _read_shows_cache(the_lake: Lake) -> dict[str, list]:
    try:
        data = json.loads(shows_cache_file(the_lake).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    ok = isinstance(data, dict) and data.get("version") == SHOWS_CACHE_VERSION
    files = data.get("files") if ok else None
    return files if isinstance(files, dict) else {}


def _shows_by_file(paths: list[Path]) -> dict[str, set[tuple[str, str]]]:
    """(account, show key) of the podcast plays in each of ``paths``, read in one scan."""
    import pyarrow.dataset as ds  # here: a scheduling pass that finds staging current needs none

    from pipeline import schemas  # Arrow's schemas, likewise

    table = ds.dataset([str(p) for p in paths], format="parquet", schema=schemas.PLAYS).to_table(
        columns=["account", "show_name", "__filename"],
        filter=(ds.field("content_type") == "podcast") & ds.field("show_name").is_valid(),
    )
    found: dict[str, set[tuple[str, str]]] = {}
    for row in table.group_by(["__filename", "account", "show_name"]).aggregate([]).to_pylist():
        pair = (str(row["account"]), show_key(str(row["show_name"])))
        found.setdefault(str(row["__filename"]), set()).add(pair)
    return found


def _entry_is_valid(entry: object) -> TypeGuard[list]:
    """A kept entry of the shape ``podcast_shows`` writes: [size, mtime, [[account, show]...]]
    (any other, from a damaged or edited file, is read again rather than trusted)."""
    return (
        isinstance(entry, list)
        and len(entry) == 3
        and isinstance(entry[2], list)
        and all(
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) for v in pair)
            for pair in entry[2]
        )
    )


def podcast_shows(the_lake: Lake, index: InputIndex) -> set[tuple[str, str]]:
    """(account, show key) of every show played as a podcast in any staged input.

    What recognises a podcast in the oldest account-data files (see
    ``dedupe.recognise_podcasts``): the account's other files name the same shows. Each file's
    shows are kept with its size and mtime (``shows_cache_file``), so only new or rewritten
    files are read: every check after a poll needs this, and reading every input each time
    grew with the poll files (~0.4 ms each: a year of 30-minute polls is ~17,000 of them).
    """
    known = peek_kept(_slot(the_lake))
    if isinstance(known, _Known) and known.index is index and known.shows is not None:
        return known.shows  # the index is the one kept for the inputs as they are
    shows = _read_shows(the_lake, index)
    if isinstance(known, _Known) and known.index is index:
        known.shows = shows
    return shows


def _read_shows(the_lake: Lake, index: InputIndex) -> set[tuple[str, str]]:
    """``podcast_shows`` made: each input's shows kept, or read if new or rewritten."""
    paths = sorted({p for found in index.values() for p in found})
    if not paths:
        return set()
    cached = _read_shows_cache(the_lake)
    kept: dict[str, list] = {}
    unread: list[tuple[Path, str, os.stat_result]] = []
    for path in paths:
        name = path.relative_to(the_lake.staged).as_posix()
        stat = path.stat()
        entry = cached.get(name)
        if _entry_is_valid(entry) and entry[:2] == [stat.st_size, stat.st_mtime_ns]:
            kept[name] = entry
        else:
            unread.append((path, name, stat))  # stat before the read: a later rewrite shows
    if unread:
        found = _shows_by_file([path for path, _, _ in unread])
        for path, name, stat in unread:
            pairs = sorted(found.get(str(path), set()))
            kept[name] = [stat.st_size, stat.st_mtime_ns, [list(pair) for pair in pairs]]
    if unread or kept.keys() != cached.keys():
        write_json_atomic(
            shows_cache_file(the_lake), {"version": SHOWS_CACHE_VERSION, "files": kept}
        )
    return {(str(a), str(k)) for entry in kept.values() for a, k in entry[2]}


def partition_is_current(
    the_lake: Lake, day: dt.date, inputs: list[Path], shows: str | None = None
) -> bool:
    """Whether the day's partition exists and was built from exactly these inputs, as they are.

    ``shows`` is the current ``shows_digest``: a partition holding account-data rows records
    the digest it was built with, and is stale when a new podcast show became known.
    """
    target = the_lake.plays_partition(day)
    if not target.exists():
        return False
    prov = read_provenance(target)
    if prov is None or prov.get("inputs") != inputs_fingerprint(the_lake, inputs):
        return False
    return shows is None or prov.get("podcast_shows", shows) == shows


def current_days(the_lake: Lake, days: Iterable[dt.date]) -> list[dt.date]:
    """The days among ``days`` whose partition is current, from one index of the lake."""
    index = inputs_by_date(the_lake)
    digest = shows_digest(podcast_shows(the_lake, index))
    return [d for d in days if partition_is_current(the_lake, d, index.get(d, []), digest)]


def stale_days(the_lake: Lake) -> tuple[list[dt.date], InputIndex]:
    """Every day of the input index whose partition is missing or stale, and the index."""
    index = inputs_by_date(the_lake)
    digest = shows_digest(podcast_shows(the_lake, index))
    stale = [
        d for d, paths in index.items() if not partition_is_current(the_lake, d, paths, digest)
    ]
    return sorted(stale), index
