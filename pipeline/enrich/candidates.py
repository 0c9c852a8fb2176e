"""What to look up, most listened first: ranked from the staged plays and earlier lookups.

Priority is listening time (then play count) over all staged plays, so each day's budget goes to
the entities that matter most and the warehouse is useful from the first hour.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pipeline.io.duck import connect
from pipeline.io.kept import forget, kept
from pipeline.paths import Lake
from pipeline.transform.musicbrainz import name_key, normalise_name, split_credit
from pipeline.transform.spotify_catalogue import Harvest, harvest_recently_played, track_row

T = TypeVar("T")


def _glob(path: Path) -> str:
    return str(path).replace("'", "''")


def _has_parquet(root: Path) -> bool:
    return root.exists() and any(root.glob("date=*/*.parquet"))


@dataclass
class TrackStat:
    """Listening of one track (music only)."""

    track_id: str | None
    artist_name: str | None
    ms: int
    plays: int


#: The group of the answers the enrichment keeps (``io.kept``): dropped before dbt runs.
KEPT_GROUP = "enrichment"


def track_stats(lake: Lake) -> list[TrackStat]:
    """Music plays grouped by track (or by artist name when there is no track ID), ranked.

    The sums are kept between runs (``listening``): a cycle reads only the days that changed;
    within a run they are kept while the partitions are unchanged (``io.kept``: one run's three
    enrichment tasks share one reading instead of three).
    """
    from pipeline.enrich.listening import listening
    from pipeline.io.markers import fingerprint

    if not _has_parquet(lake.plays_dir):
        return []
    files = fingerprint(lake.plays_dir)
    slot = (KEPT_GROUP, "track_stats", str(lake.plays_dir.resolve()))
    return kept(slot, repr(files), lambda: [TrackStat(*row) for row in listening(lake, files)])


def _kept(what: str, root: Path, key: str, read: Callable[[], T]) -> T:
    """``read()`` of a lookup dataset, kept while ``root``'s files are as they are now: a
    cycle's three enrichment tasks (and their checks) ask for the same lookups five times,
    each a DuckDB scan of every partition."""
    from pipeline.io.markers import fingerprint

    return kept((KEPT_GROUP, what, str(root), key), repr(fingerprint(root)), read)


def forget_kept() -> None:
    """Drop the kept answers and listening sums (the worker's memory, before dbt starts)."""
    forget(KEPT_GROUP)


def latest_found(lake: Lake, dataset: str, key: str) -> dict[str, dict[str, Any]]:
    """The latest found row per key of a lookup dataset, across all its partitions.

    Kept while the dataset's files are unchanged: callers must not change what they get.
    """
    root = lake.dated_dir(dataset)
    if not _has_parquet(root):
        return {}
    return _kept("latest_found", root, key, lambda: _read_latest_found(root, key))


def _read_latest_found(root: Path, key: str) -> dict[str, dict[str, Any]]:
    """``latest_found`` read: one DuckDB scan of every partition of the dataset."""
    con = connect()
    cur = con.execute(
        f"select * from read_parquet('{_glob(root / 'date=*' / '*.parquet')}', "
        "union_by_name = true, hive_partitioning = false) where status = 'found' "
        f"qualify row_number() over (partition by {key} order by fetched_at desc) = 1"
    )
    names = [d[0] for d in cur.description]
    out = {str(r[names.index(key)]): dict(zip(names, r, strict=True)) for r in cur.fetchall()}
    con.close()
    return out


def statuses_in_lake(lake: Lake, dataset: str, key: str) -> dict[str, set[str]]:
    """Every key of a lookup dataset, across all its partitions, with the statuses it has.

    Kept while the dataset's files are unchanged: callers must not change what they get.
    """
    root = lake.dated_dir(dataset)
    if not _has_parquet(root):
        return {}
    return _kept("statuses", root, key, lambda: _read_statuses(root, key))


def answers_in_lake(lake: Lake, dataset: str, key: str) -> list[tuple[str, str, str, dt.datetime]]:
    """(key, status, source, fetched_at) of the newest answer for every key of a lookup
    dataset: what a lookup state set aside is rebuilt from (``runs.open_state``)."""
    root = lake.dated_dir(dataset)
    if not _has_parquet(root):
        return []
    con = connect()
    try:
        files = _glob(root / "date=*" / "*.parquet")
        rows = con.execute(
            f"select {key}, arg_max(status, fetched_at), arg_max(source, fetched_at), "
            f"epoch_ms(max(fetched_at)) from read_parquet('{files}', union_by_name = true, "
            f"hive_partitioning = false) where {key} is not null group by 1"
        ).fetchall()
    finally:
        con.close()
    return [
        (str(k), str(status), str(source), dt.datetime.fromtimestamp(ms / 1000, dt.UTC))
        for k, status, source, ms in rows
    ]


def _read_statuses(root: Path, key: str) -> dict[str, set[str]]:
    """``statuses_in_lake`` read: one DuckDB scan of every partition of the dataset."""
    con = connect()
    rows = con.execute(
        f"select {key}, list(distinct status) from read_parquet("
        f"'{_glob(root / 'date=*' / '*.parquet')}', union_by_name = true, "
        "hive_partitioning = false) group by 1"
    ).fetchall()
    con.close()
    return {str(k): set(statuses or []) for k, statuses in rows}


def raw_poll_files(lake: Lake) -> list[Path]:
    """Raw recently-played responses saved by ingestion, oldest first."""
    return [Path(p) for p in raw_poll_names(lake)]


def raw_poll_names(lake: Lake) -> list[str]:
    """``raw_poll_files`` as sorted strings: every check of the catalogue's enrichment lists
    them all (~5,800 a busy year), and making and sorting that many ``Path`` objects took four
    times the listing itself (31 ms against 7 ms on a lake aged by a year).

    Listed with ``os.scandir`` (what ``root.glob("account=*/date=*/*.json")`` finds).
    """
    found: list[str] = []
    # Sorted level by level, the order of ``Path`` objects (a plain sort of the strings would
    # put "account=me-2/" before "account=me/").
    for account in sorted(_folders(lake.raw_recently_played_root, "account=")):
        for day in sorted(_folders(account, "date=")):
            with os.scandir(day) as entries:
                names = [e.name for e in entries if e.name.endswith(".json") and e.is_file()]
            found.extend(os.path.join(day, name) for name in sorted(names))
    return found


def _folders(root: Path | str, prefix: str) -> list[str]:
    """The folders directly under ``root`` whose names start with ``prefix`` (none if absent)."""
    try:
        with os.scandir(root) as entries:
            return [e.path for e in entries if e.name.startswith(prefix) and e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []


def read_harvest(paths: list[Path]) -> Harvest:
    """Track/album/artist objects from raw poll files (unreadable files are skipped)."""
    pages: list[dict[str, Any]] = []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            pages.append(data)
    return harvest_recently_played(pages)


#: The Spotify track lookups (``runs.TRACKS``), whose credits ``track_metadata`` reads.
TRACK_LOOKUPS = "lookups/spotify_tracks"


@dataclass
class TrackMeta:
    """What we know of a track's credits (from a lookup or a harvested poll)."""

    artists: list[tuple[str, str]]  # (spotify artist id, name), credit order
    album_id: str | None
    isrc: str | None

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> TrackMeta:
        """From a SPOTIFY_TRACKS row (a lookup's, or ``track_row`` of a harvested track)."""
        ids = list(row.get("artist_ids") or [])
        names = list(row.get("artist_names") or [])
        names += [""] * (len(ids) - len(names))
        return cls(list(zip(ids, names, strict=False)), row.get("album_id"), row.get("isrc"))


def _looked_up_tracks(lake: Lake) -> dict[str, TrackMeta]:
    """Track -> credits from every earlier Spotify track lookup (kept as ``latest_found``)."""

    def read() -> dict[str, TrackMeta]:
        meta: dict[str, TrackMeta] = {}
        for track_id, row in latest_found(lake, TRACK_LOOKUPS, "track_id").items():
            meta[track_id] = TrackMeta.of_row(row)
        return meta

    return _kept("track_metadata", lake.dated_dir(TRACK_LOOKUPS), "track_id", read)


def track_metadata(lake: Lake, harvest: Harvest | None = None) -> dict[str, TrackMeta]:
    """Track -> credits, from every earlier Spotify track lookup plus a harvest."""
    meta = dict(_looked_up_tracks(lake))  # a copy: callers add to it
    for track_id, track in (harvest.tracks if harvest else {}).items():
        if track_id in meta:
            continue
        # The harvested object read as a lookup row is (every field through ``clean``).
        meta[track_id] = TrackMeta.of_row(track_row(track, "recently_played", None))
    return meta


@dataclass
class ArtistCandidate:
    """One artist to resolve in MusicBrainz, keyed by Spotify ID when known, else by name."""

    key: str
    name: str
    spotify_artist_id: str | None = None
    isrcs: list[str] = field(default_factory=list)
    ms: int = 0


def artist_candidates(stats: list[TrackStat], meta: dict[str, TrackMeta]) -> list[ArtistCandidate]:
    """Every artist of every played track (all credits, "feat." split), most listened first.

    A name-only artist whose name belongs to exactly one known Spotify artist is folded into that
    artist (an exact identifier beats a name); a name shared by two Spotify artists stays a name.
    """
    by_key: dict[str, ArtistCandidate] = {}
    names_to_ids: dict[str, set[str]] = defaultdict(set)

    def add(key: str, name: str, ms: int, sid: str | None = None, isrc: str | None = None) -> None:
        cand = by_key.get(key)
        if cand is None:
            cand = by_key[key] = ArtistCandidate(key, name, sid)
        cand.ms += ms
        if isrc and isrc not in cand.isrcs and len(cand.isrcs) < 3:
            cand.isrcs.append(isrc)

    name_only: list[tuple[str, int]] = []
    for stat in stats:
        known = meta.get(stat.track_id or "")
        if known and known.artists:
            for sid, name in known.artists:
                add(sid, name, stat.ms, sid, known.isrc)
                names_to_ids[normalise_name(name)].add(sid)
        elif stat.artist_name:
            for name in split_credit(stat.artist_name):
                name_only.append((name, stat.ms))
    for name, ms in name_only:
        ids = names_to_ids.get(normalise_name(name), set())
        if len(ids) == 1:
            add(next(iter(ids)), name, ms)
        else:
            add(name_key(name), name, ms)
    return sorted(by_key.values(), key=lambda c: (-c.ms, c.key))
