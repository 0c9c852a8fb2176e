"""What a day of plays is staged from, and whether its partition was built from exactly that.

Inputs are found, not required: the import units whose provenance lists the day (their
``dates``), and the poll files under ``staged/polls/v1/account=*/date=D/``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from pipeline.ingest.units import unit_dates
from pipeline.io.markers import files_fingerprint
from pipeline.io.parquet import read_provenance
from pipeline.paths import Lake
from pipeline.transform.dedupe import show_key, shows_digest

#: Days of plays -> the staged files holding them (sorted, deterministic).
InputIndex = dict[dt.date, list[Path]]


class StagingInputError(RuntimeError):
    """A staged input cannot be read; staging stops rather than drop its plays."""


def inputs_by_date(the_lake: Lake) -> InputIndex:
    """Map every UTC day that has plays to the files holding them (sorted, deterministic)."""
    found: InputIndex = defaultdict(list)
    if the_lake.import_units_dir.exists():
        for unit in sorted(the_lake.import_units_dir.glob("*.parquet")):
            if read_provenance(unit) is None:
                # Skipping it would silently drop its plays from every day it covers.
                raise StagingInputError(
                    f"{unit} is unreadable (corrupt or truncated); run `music-tracker rebuild` "
                    "to re-create it from raw/ (nothing else is changed until then)"
                )
            for day in unit_dates(unit):
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


def podcast_shows(index: InputIndex) -> set[tuple[str, str]]:
    """(account, show key) of every show played as a podcast in any staged input.

    What recognises a podcast in the oldest account-data files (see
    ``dedupe.recognise_podcasts``): the account's other files name the same shows.
    """
    import pyarrow.dataset as ds  # here: a scheduling pass that finds staging current needs none

    from pipeline import schemas  # Arrow's schemas, likewise

    paths = sorted({str(p) for found in index.values() for p in found})
    if not paths:
        return set()
    table = ds.dataset(paths, format="parquet", schema=schemas.PLAYS).to_table(
        columns=["account", "show_name"],
        filter=(ds.field("content_type") == "podcast") & ds.field("show_name").is_valid(),
    )
    pairs = table.group_by(["account", "show_name"]).aggregate([]).to_pylist()
    return {(str(r["account"]), show_key(str(r["show_name"]))) for r in pairs}


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
    digest = shows_digest(podcast_shows(index))
    return [d for d in days if partition_is_current(the_lake, d, index.get(d, []), digest)]


def stale_days(the_lake: Lake) -> tuple[list[dt.date], InputIndex]:
    """Every day of the input index whose partition is missing or stale, and the index."""
    index = inputs_by_date(the_lake)
    digest = shows_digest(podcast_shows(index))
    stale = [
        d for d, paths in index.items() if not partition_is_current(the_lake, d, paths, digest)
    ]
    return sorted(stale), index
