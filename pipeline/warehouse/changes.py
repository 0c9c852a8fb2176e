"""What changed since the last successful build: play days and lookup answers.

An incremental build reloads only the changed days and recomputes only the periods the changed
lookup answers touch (a changed project, ``current.current_project_fingerprint``, rebuilds
everything).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pipeline.io.atomic import write_json_atomic
from pipeline.io.markers import changed_days, fingerprint
from pipeline.paths import Lake
from pipeline.warehouse.current import latest_build

#: Above this many changed days a build reloads every day (one scan beats a huge IN list).
MAX_CHANGED_DAYS = 400

#: Enrichment lookups whose answers reach the marts, with the key dbt joins each on.
LOOKUP_KEYS: dict[str, str] = {
    "lookups/spotify_tracks": "track_id",
    "lookups/spotify_albums": "album_id",
    "lookups/spotify_artists": "artist_id",
    "lookups/musicbrainz_artists": "lookup_key",
    "lookups/geo_places": "place_key",
}
#: Columns that say when an answer was fetched, not what it is (a refresh with the same answer
#: changes nothing downstream).
LOOKUP_NOISE = ("fetched_at",)
#: Above this many changed lookup keys a build recomputes every period (one pass is cheaper).
MAX_CHANGED_LOOKUPS = 5000


def plays_changed_dates(
    the_lake: Lake, now: dict[str, str], full_refresh: bool = False
) -> list[str] | None:
    """UTC days whose staged plays differ from what the last successful build read.

    ``None`` means "reload every day": no earlier build (or one from before this was recorded),
    no warehouse file, a full refresh, or so many days that one full scan is cheaper. Days
    whose files were removed are listed too, so their rows are dropped.
    """
    if full_refresh or not the_lake.warehouse.exists():
        return None
    latest = latest_build(the_lake)
    if latest is None or latest[1].get("status") != "success":
        return None
    before = latest[1].get("plays_fingerprint")
    if not isinstance(before, dict):
        return None
    changed = changed_days(before, now)
    if changed is None or len(changed) > MAX_CHANGED_DAYS:
        return None
    return [day.isoformat() for day in changed]


def lookup_content(the_lake: Lake) -> dict[str, str]:
    """A content hash per looked-up entity (``"<dataset>|<key>"``), over every staged answer.

    Content, not files: the enrichment writes a (often empty) partition every day and renames
    nothing it needs, so file fingerprints change when answers do not. Which keys changed is
    what decides which artists' periods a build recomputes (``changed_lookups``).

    Read from the copy ``keep_lookup_content`` made when the lookup files are still exactly as
    they were then (the import's child makes one, so its parent asks DuckDB nothing before
    running dbt); computed otherwise.
    """
    try:
        content = json.loads(_kept_content_file(the_lake).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return _computed_lookup_content(the_lake)
    return content if isinstance(content, dict) else _computed_lookup_content(the_lake)


def keep_lookup_content(the_lake: Lake) -> None:
    """Compute ``lookup_content`` now and keep it for another process, named by the state of
    the lookup files it was made from (any other copy is removed)."""
    target = _kept_content_file(the_lake)
    content = _computed_lookup_content(the_lake)
    write_json_atomic(target, content)
    for old in target.parent.glob(f"{KEPT_CONTENT_PREFIX}*.json"):
        if old != target:
            old.unlink(missing_ok=True)


#: Name of ``keep_lookup_content``'s copies (then the lookup files' stamp).
KEPT_CONTENT_PREFIX = "lookup_content_at_"


def _kept_content_file(the_lake: Lake) -> Path:
    """Where a kept ``lookup_content`` of the lookup files as they are now would be."""
    prints = [fingerprint(the_lake.dated_dir(dataset)) for dataset in LOOKUP_KEYS]
    stamp = hashlib.sha256(json.dumps(prints, sort_keys=True).encode()).hexdigest()[:16]
    return lookup_snapshot_file(the_lake).with_name(f"{KEPT_CONTENT_PREFIX}{stamp}.json")


def _computed_lookup_content(the_lake: Lake) -> dict[str, str]:
    """``lookup_content`` made afresh, with DuckDB."""
    from pipeline.io.atomic import TMP_MARK
    from pipeline.io.duck import connect

    content: dict[str, str] = {}
    con = connect()
    try:
        for dataset, key in LOOKUP_KEYS.items():
            files = sorted(
                str(f)
                for f in the_lake.dated_dir(dataset).glob("date=*/*.parquet")
                if TMP_MARK not in f.name
            )
            if not files:
                continue
            name = dataset.removeprefix("lookups/")
            rows = con.execute(
                f"""
                select {key}, hash(list(distinct row_hash order by row_hash))::varchar
                from (
                    select {key}, hash(answer) as row_hash
                    from (
                        select * exclude ({", ".join(LOOKUP_NOISE)})
                        from read_parquet(?, union_by_name = true, hive_partitioning = false)
                    ) as answer
                )
                where {key} is not null
                group by {key}
                """,
                [files],
            ).fetchall()
            content.update({f"{name}|{k}": h for k, h in rows})
    finally:
        con.close()
    return content


def lookup_snapshot_file(the_lake: Lake) -> Path:
    """The lookup content (``lookup_content``) the last successful build was made from."""
    return the_lake.plays_changed_dates_file.with_name("lookup_content.json")


def changed_lookups(the_lake: Lake, now: dict[str, str]) -> dict[str, list[str]] | None:
    """Keys per lookup dataset whose answers differ from the last successful build's.

    ``None`` means "recompute every period": no snapshot yet, or too many changes.
    """
    snapshot = lookup_snapshot_file(the_lake)
    try:
        before = json.loads(snapshot.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(before, dict):
        return None
    changed: dict[str, list[str]] = {}
    for entity in set(before) | set(now):
        if before.get(entity) != now.get(entity):
            dataset, _, key = entity.partition("|")
            changed.setdefault(dataset, []).append(key)
    if sum(map(len, changed.values())) > MAX_CHANGED_LOOKUPS:
        return None
    return {dataset: sorted(keys) for dataset, keys in sorted(changed.items())}
