"""What changed since the last successful build: play days, lookup answers, the dbt project.

An incremental build reloads only the changed days, recomputes only the periods the changed
lookup answers touch, and rebuilds everything when the project itself changed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pipeline.io.atomic import write_json_atomic
from pipeline.io.markers import changed_days, fingerprint
from pipeline.io.pass_cache import memo
from pipeline.paths import Lake
from pipeline.settings import get_settings
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
#: What dbt builds from besides the staged data: a change here (an upgrade, an edited model)
#: means every period is recomputed and every model rebuilt.
PROJECT_PARTS = ("models", "macros", "seeds", "tests", "dbt_project.yml", "profiles.yml")


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


def dbt_vars() -> dict:
    """The vars every dbt run gets from the settings."""
    return {"session_idle_gap_minutes": get_settings().sessions.idle_gap_minutes}


def current_project_fingerprint(the_lake: Lake) -> str:
    """``project_fingerprint`` of the project, the vars and the lake's listeners file, as a
    build records it in its marker (once per scheduling pass)."""
    project = get_settings().paths.dbt_project_dir
    listeners = the_lake.listeners_file
    return memo(
        ("project fingerprint", str(project), str(listeners)),
        lambda: project_fingerprint(project, dbt_vars(), (listeners,)),
    )


def project_is_built(the_lake: Lake) -> bool:
    """Whether the last successful build was of the dbt project as it is now.

    An upgrade (or an edited model) changes what the warehouse should hold although no input
    did: until it is built, the build is not complete, so the next cycle, `build` or `rebuild`
    builds it (every model) instead of finding nothing to do. A marker without a project
    fingerprint (nothing was staged yet) asks nothing.
    """
    latest = latest_build(the_lake)
    built = latest[1].get("project_fingerprint") if latest is not None else None
    return built is None or built == current_project_fingerprint(the_lake)


def project_fingerprint(project: Path, vars_: dict, also: tuple[Path, ...] = ()) -> str:
    """A hash of the dbt project's own files, the vars a build passes and ``also`` (the
    listeners file: a new time zone moves every local day)."""
    digest = hashlib.sha256(json.dumps(vars_, sort_keys=True).encode())
    for path in also:
        digest.update(path.read_bytes() if path.exists() else b"")
    for part in PROJECT_PARTS:
        root = project / part
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            digest.update(str(path.relative_to(project)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
