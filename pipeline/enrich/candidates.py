"""What to look up, most listened first: ranked from the staged plays and earlier lookups.

Priority is listening time (then play count) over all staged plays, so each day's budget goes to
the entities that matter most and the warehouse is useful from the first hour.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.io.duck import connect
from pipeline.paths import Lake
from pipeline.transform.musicbrainz import name_key, normalise_name, split_credit
from pipeline.transform.spotify_catalogue import Harvest, harvest_recently_played


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


#: track_stats per plays folder, valid while its files are unchanged (one run's three
#: enrichment tasks share one scan of a million plays instead of three).
_STATS: dict[str, tuple[dict[str, str], list[TrackStat]]] = {}


def track_stats(lake: Lake) -> list[TrackStat]:
    """Music plays grouped by track (or by artist name when there is no track ID), ranked.

    The sums are kept between runs (``listening``): a cycle reads only the days that changed.
    """
    from pipeline.enrich.listening import listening
    from pipeline.io.markers import fingerprint

    if not _has_parquet(lake.plays_dir):
        return []
    key = str(lake.plays_dir.resolve())
    files = fingerprint(lake.plays_dir)
    cached = _STATS.get(key)
    if cached is not None and cached[0] == files:
        return cached[1]
    stats = [TrackStat(*row) for row in listening(lake, files)]
    _STATS.clear()
    _STATS[key] = (files, stats)
    return stats


def latest_found(lake: Lake, dataset: str, key: str) -> dict[str, dict[str, Any]]:
    """The latest found row per key of a lookup dataset, across all its partitions."""
    root = lake.dated_dir(dataset)
    if not _has_parquet(root):
        return {}
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
    """Every key of a lookup dataset, across all its partitions, with the statuses it has."""
    root = lake.dated_dir(dataset)
    if not _has_parquet(root):
        return {}
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
    root = lake.raw_recently_played_root
    return sorted(root.glob("account=*/date=*/*.json")) if root.exists() else []


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


@dataclass
class TrackMeta:
    """What we know of a track's credits (from a lookup or a harvested poll)."""

    artists: list[tuple[str, str]]  # (spotify artist id, name), credit order
    album_id: str | None
    isrc: str | None


def track_metadata(lake: Lake, harvest: Harvest | None = None) -> dict[str, TrackMeta]:
    """Track -> credits, from every earlier Spotify track lookup plus a harvest."""
    meta: dict[str, TrackMeta] = {}
    for track_id, row in latest_found(lake, "lookups/spotify_tracks", "track_id").items():
        ids = list(row.get("artist_ids") or [])
        names = list(row.get("artist_names") or [])
        names += [""] * (len(ids) - len(names))
        meta[track_id] = TrackMeta(
            list(zip(ids, names, strict=False)), row.get("album_id"), row.get("isrc")
        )
    for track_id, track in (harvest.tracks if harvest else {}).items():
        if track_id in meta:
            continue
        artists = [
            (str(a["id"]), str(a.get("name") or ""))
            for a in track.get("artists") or []
            if isinstance(a, dict) and a.get("id")
        ]
        meta[track_id] = TrackMeta(
            artists,
            (track.get("album") or {}).get("id"),
            (track.get("external_ids") or {}).get("isrc"),
        )
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
