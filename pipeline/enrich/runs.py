"""One run of each enrichment service: choose what is due, spend the budget, record outcomes.

Free of Luigi (the tasks in ``pipeline/tasks/enrichment.py`` are thin wrappers), so the run loops
are tested directly with cassettes and fake clocks. A run never raises for a service problem: a
429 with a long Retry-After pauses the service until ``resume_at`` and ends the run; repeated
failures (an outage) pause it for ``enrichment.outage_pause_minutes``; a spent budget ends it.
Whatever was fetched is returned, and ``finish`` writes it (raw, then partitions, then state).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline.clients.http import AuthError, Forbidden, HttpError, NotFound, RateLimited, utcnow
from pipeline.enrich.budget import Budget, BudgetExhausted
from pipeline.enrich.candidates import (
    TRACK_LOOKUPS,
    ArtistCandidate,
    TrackMeta,
    answers_in_lake,
    artist_candidates,
    latest_found,
    raw_poll_files,
    raw_poll_names,
    read_harvest,
    statuses_in_lake,
    track_metadata,
    track_stats,
)
from pipeline.enrich.state import (
    FAILED,
    FOUND,
    NOT_FOUND,
    PARTIAL,
    LookupState,
    Policy,
    StateUnreadable,
)
from pipeline.io.atomic import write_bytes_atomic
from pipeline.io.keep import set_aside
from pipeline.io.parquet import write_parquet_atomic
from pipeline.paths import Lake
from pipeline.settings import (
    enrichment_settings,
    get_settings,
    musicbrainz_settings,
    nominatim_settings,
    spotify_catalogue_settings,
)
from pipeline.transform import clean, geo
from pipeline.transform import musicbrainz as mbt
from pipeline.transform import spotify_catalogue as sct
from pipeline.transform.spotify_catalogue import Harvest

logger = logging.getLogger(__name__)

TRACKS, ALBUMS, ARTISTS = (
    TRACK_LOOKUPS,
    "lookups/spotify_albums",
    "lookups/spotify_artists",
)
MB_ARTISTS, GEO_PLACES = "lookups/musicbrainz_artists", "lookups/geo_places"


@dataclass
class RunContext:
    """What a run needs from outside: the lake, the day, time, and a progress callback."""

    lake: Lake
    date: dt.date
    now: Callable[[], dt.datetime] = utcnow
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    progress: Callable[[int, int, str], None] = lambda done, total, what: None


@dataclass
class RunReport:
    """What one run did: the numbers the status line, the log and the provenance show."""

    service: str
    wanted: int = 0
    cached: int = 0
    requested: int = 0
    calls: int = 0
    found: int = 0
    not_found: int = 0
    failed: int = 0
    harvested: int = 0
    reused: int = 0
    forgotten: int = 0
    stopped: str = ""
    resume_at: str | None = None
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def hit_rate(self) -> float:
        """Share of wanted entities answered from the state without a call."""
        return self.cached / self.wanted if self.wanted else 1.0

    def summary(self) -> str:
        text = (
            f"{self.service}: {self.requested} looked up with {self.calls} calls "
            f"({self.found} found, {self.not_found} not found, {self.failed} failed); "
            f"cache hit rate {self.hit_rate:.0%} of {self.wanted}"
        )
        if self.harvested:
            text += f"; {self.harvested} harvested from recently-played"
        if self.reused:
            text += f"; {self.reused} answered by an earlier lookup of the same artist"
        if self.forgotten:
            text += (
                f"; {self.forgotten} answers the state held were missing from the lake "
                "(a deleted partition?) and are asked again"
            )
        if self.stopped:
            text += f"; stopped: {self.stopped}"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "hit_rate": round(self.hit_rate, 4)}


@dataclass
class RunResult:
    """Rows per dataset, the report, the raw responses, and the uncommitted state."""

    report: RunReport
    state: LookupState | None
    rows: dict[str, list[dict[str, Any]]]
    responses: list[dict[str, Any]] = field(default_factory=list)


def spotify_token_provider() -> Callable[[], str] | None:
    """The access-token callable of the first authorised account, or None when none is.

    Catalogue lookups are not personal, so any listener's token serves; without one the
    catalogue lookups are skipped with a status message and recently-played is harvested.
    """
    from pipeline.clients.spotify import SpotifyClient, load_token

    for account in get_settings().accounts:
        if load_token(account.name) is not None:
            return SpotifyClient(account.name).token
    return None


def _policy() -> Policy:
    e = enrichment_settings()
    return Policy(
        refresh_found=dt.timedelta(days=e.refresh_found_days),
        refresh_not_found=dt.timedelta(days=e.refresh_not_found_days),
        retry_base=dt.timedelta(minutes=e.retry_base_minutes),
        retry_max=dt.timedelta(days=e.retry_max_days),
    )


def open_state(lake: Lake, service: str, repair: bool = True) -> LookupState:
    """The service's lookup state. One SQLite cannot open (``StateUnreadable``) is, with
    ``repair``, set aside as ``<name>.unreadable`` and rebuilt from the lake's answers
    (``restore_answers``), so the enrichment goes on instead of failing every run; without
    (``status``, ``enrich status``: they only look), the error is raised."""
    path = lake.lookup_state_db(service)
    try:
        return LookupState(path, _policy())
    except StateUnreadable as exc:
        if not repair:
            raise
        aside = set_aside(path, ("-journal", "-wal", "-shm"))  # SQLite's belong to the old file
        state = LookupState(path, _policy())
        restored = restore_answers(lake, state, service)
        state.commit()
        logger.error(
            "%s: lookup state unreadable (%s): moved to %s and rebuilt from the lake's %d "
            "answers; its call counts, pause and failed keys start again",
            service,
            exc.reason,
            aside,
            restored,
        )
        return state


def restore_answers(lake: Lake, state: LookupState, service: str) -> int:
    """Put every answer the lake holds for ``service`` (its newest per key) into ``state``:
    what a new state needs so that nothing answered is asked again (the daily quotas)."""
    return sum(
        state.restore(entity, answers_in_lake(lake, dataset, key))
        for entity, (dataset, key) in HOLDERS[service].items()
    )


#: Where each (service, entity) answer lives: its dataset and key column.
HOLDERS: dict[str, dict[str, tuple[str, str]]] = {
    "spotify_api": {
        "track": (TRACKS, "track_id"),
        "album": (ALBUMS, "album_id"),
        "artist": (ARTISTS, "artist_id"),
    },
    "musicbrainz": {"artist": (MB_ARTISTS, "lookup_key")},
    "nominatim": {"place": (GEO_PLACES, "place_key")},
}


#: Sources the run loops record; what they recorded is what they also wrote to the lake.
_OWN_SOURCES = frozenset({"spotify_api", "recently_played", "musicbrainz", "nominatim"})


def reconcile(lake: Lake, state: LookupState, service: str, report: RunReport) -> None:
    """Make the state agree with the lake before a run decides what is due.

    An answer (``found``, ``not_found``, ``partial``) the state holds but no partition holds
    (a partition was deleted, e.g. to make Luigi rerun its task) is forgotten, so this run asks
    again instead of writing an empty partition and keeping the answer lost until the refresh.
    What came from saved polls is re-created from them without a call: the polls are harvested
    again. ``failed`` needs nothing: it is retried on its own schedule.
    """
    forgot_harvest = False
    for entity, (dataset, key) in HOLDERS[service].items():
        held = statuses_in_lake(lake, dataset, key)
        lost: list[str] = []
        for k, status, source in state.entries(entity):
            if source not in _OWN_SOURCES:
                continue  # written by another tool (the benchmark's converged catalogue)
            there = held.get(k, set())
            if (status == FOUND and FOUND not in there) or (
                status in (NOT_FOUND, PARTIAL) and not there
            ):
                lost.append(k)
                forgot_harvest = forgot_harvest or source == "recently_played"
        if lost:
            state.forget(entity, lost)
            report.forgotten += len(lost)
            logger.warning(
                "%s: %d %s answers are in the state but in no %s partition; asking again",
                service,
                len(lost),
                entity,
                dataset,
            )
    if forgot_harvest:
        state.forget_harvested()


def _held_back(
    state: LookupState, now: dt.datetime, report: RunReport, what: str, check_pause: bool = True
) -> bool:
    """Whether this run must not call the service: enrichment is off, or a pause is running."""
    if not enrichment_settings().enabled:
        report.stopped = f"enrichment.enabled is false (offline): {what} skipped"
        return True
    return check_pause and _paused(state, now, report)


def _paused(state: LookupState, now: dt.datetime, report: RunReport) -> bool:
    resume = state.resume_at()
    if resume is not None and resume > now:
        report.stopped = f"paused until {resume.isoformat()} ({state.get('pause_reason')})"
        report.resume_at = resume.isoformat()
        return True
    if resume is not None:
        state.clear_pause()
    return False


class _Loop:
    """Spend a budget over due keys, mapping service errors to outcomes and stops."""

    def __init__(
        self,
        ctx: RunContext,
        state: LookupState,
        budget: Budget,
        report: RunReport,
        calls: Callable[[], int],
    ) -> None:
        self.ctx, self.state, self.budget, self.report, self.calls = (
            ctx,
            state,
            budget,
            report,
            calls,
        )
        self.requested: set[tuple[str, str]] = set()
        self.consecutive = 0
        self.settings = enrichment_settings()

    def run(
        self,
        entity: str,
        keys: list[str],
        work: Callable[[str], None],
        on_fail: Callable[[str, str], None],
    ) -> bool:
        """Work through ``keys``; False when the run must stop (budget, quota, outage, auth)."""
        total = len(keys)
        every = max(1, self.settings.progress_every)
        for i, key in enumerate(keys, 1):
            if (entity, key) in self.requested:
                continue  # nothing is requested twice in one run
            self.requested.add((entity, key))
            before = self.calls()
            try:
                self.budget.check()
                work(key)
                self.consecutive = 0
            except BudgetExhausted as exc:
                self.report.stopped = str(exc)
                return False
            except RateLimited as exc:
                self.state.pause_until(exc.resume_at, str(exc))
                self.report.stopped = str(exc)
                self.report.resume_at = exc.resume_at.isoformat()
                return False
            except (AuthError, Forbidden) as exc:
                self.report.stopped = str(exc)
                return False
            except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
                # An answer of a shape no real one has (a list where an object belongs, a
                # field a reader does not expect): this key fails (its raw answer is kept, it
                # is asked again after the failure's back-off) and the run goes on. Not an
                # outage: the service answered.
                logger.warning(
                    "%s %s: unusable answer (%s: %s)", entity, key, type(exc).__name__, exc
                )
                on_fail(key, f"unusable answer ({type(exc).__name__}: {exc})")
                self.report.failed += 1
            except HttpError as exc:
                on_fail(key, str(exc))
                self.report.failed += 1
                self.consecutive += 1
                if self.consecutive >= self.settings.max_consecutive_failures:
                    resume = self.ctx.now() + dt.timedelta(
                        minutes=self.settings.outage_pause_minutes
                    )
                    self.state.pause_until(resume, f"outage: {exc}")
                    self.report.stopped = f"{self.consecutive} failures in a row ({exc})"
                    self.report.resume_at = resume.isoformat()
                    return False
            finally:
                made = self.calls() - before
                self.budget.charge(made)
                self.report.calls += made
                if made:
                    self.report.requested += 1
            if i % every == 0 or i == total:
                self.ctx.progress(i, total, entity)
        return True


def _budget(state: LookupState, ctx: RunContext, per_run: int, per_day: int) -> Budget:
    return Budget(state, per_run, per_day, ctx.now().date())


# ---------------------------------------------------------------------------------------------
# Spotify catalogue
# ---------------------------------------------------------------------------------------------


def run_catalogue(
    ctx: RunContext,
    token: Callable[[], str] | None,
    session: Any = None,
) -> RunResult:
    """Harvest recently-played polls, then fetch due tracks, artists and albums by listening."""
    from pipeline.clients.spotify_catalogue import SpotifyCatalogue, is_spotify_id

    settings = spotify_catalogue_settings()
    state = open_state(ctx.lake, "spotify_api")
    report = RunReport("spotify_api")
    reconcile(ctx.lake, state, "spotify_api", report)
    rows: dict[str, list[dict[str, Any]]] = {TRACKS: [], ALBUMS: [], ARTISTS: []}
    now = ctx.now()

    # ---------- zero-cost: new raw recently-played files
    new_files = _unharvested(ctx.lake, state)
    harvest = read_harvest(new_files)
    for track_id, track in harvest.tracks.items():
        if state.is_due("track", track_id, now):
            rows[TRACKS].append(sct.track_row(track, "recently_played", now))
            state.record("track", track_id, FOUND, now, source="recently_played")
            report.harvested += 1
    for album_id, album in harvest.albums.items():
        if state.mark_partial("album", album_id, now, "recently_played"):
            rows[ALBUMS].append(sct.album_row(album, "recently_played", now))
    for artist_id, artist in harvest.artists.items():
        if state.mark_partial("artist", artist_id, now, "recently_played"):
            rows[ARTISTS].append(sct.artist_row(artist, "recently_played", now))
    for path in new_files:
        state.mark_harvested(str(path.relative_to(ctx.lake.root)), now)

    # ---------- what is wanted, most listened first
    stats = track_stats(ctx.lake)
    meta = track_metadata(ctx.lake, harvest)
    track_ms: dict[str, int] = {}
    for s in stats:
        if s.track_id and is_spotify_id(s.track_id):
            track_ms[s.track_id] = track_ms.get(s.track_id, 0) + s.ms
    wanted_tracks = list(track_ms)
    due_tracks = state.due("track", wanted_tracks, now)
    report.wanted = len(wanted_tracks)
    report.cached = len(wanted_tracks) - len(due_tracks)

    if _held_back(state, now, report, "API lookups", check_pause=False):
        return RunResult(report, state, rows)
    if token is None:
        report.stopped = "no Spotify token provider available: API lookups skipped"
        return RunResult(report, state, rows)
    if _paused(state, now, report):
        return RunResult(report, state, rows)

    client = SpotifyCatalogue(
        settings, token, session=session, clock=ctx.clock, sleep=ctx.sleep, now=ctx.now
    )
    budget = _budget(state, ctx, settings.calls_per_run, settings.calls_per_day)
    loop = _Loop(ctx, state, budget, report, lambda: client.calls)

    def note_parts(track: dict[str, Any], at: dt.datetime) -> None:
        album = track.get("album")
        if isinstance(album, dict) and is_spotify_id(album.get("id")):
            if state.mark_partial("album", album["id"], at, "spotify_api"):
                rows[ALBUMS].append(sct.album_row(album, "spotify_api", at))
        for artist in track.get("artists") or []:
            if isinstance(artist, dict) and is_spotify_id(artist.get("id")):
                if state.mark_partial("artist", artist["id"], at, "spotify_api"):
                    rows[ARTISTS].append(sct.artist_row(artist, "spotify_api", at))

    def fetcher(
        entity: str,
        dataset: str,
        key_field: str,
        get: Callable[[str], dict[str, Any]],
        to_row: Callable[[dict[str, Any], str, dt.datetime], dict[str, Any]],
    ) -> tuple[Callable[[str], None], Callable[[str, str], None]]:
        def work(key: str) -> None:
            at = ctx.now()
            try:
                data = get(key)
            except NotFound:
                rows[dataset].append(sct.missing_row(key_field, key, NOT_FOUND, "spotify_api", at))
                state.record(entity, key, NOT_FOUND, at, source="spotify_api")
                report.not_found += 1
                return
            row = to_row(data, "spotify_api", at)
            row[key_field] = key  # the ID asked for (a relinked track answers with another)
            rows[dataset].append(row)
            state.record(entity, key, FOUND, at, source="spotify_api")
            report.found += 1
            if entity == "track":
                note_parts(data, at)

        def fail(key: str, error: str) -> None:
            at = ctx.now()
            rows[dataset].append(sct.missing_row(key_field, key, FAILED, "spotify_api", at))
            state.record(entity, key, FAILED, at, source="spotify_api", error=error[:500])

        return work, fail

    work, fail = fetcher("track", TRACKS, "track_id", client.track, sct.track_row)
    go_on = loop.run("track", due_tracks, work, fail)

    # Artists and albums of the played tracks, ranked by the listening of their tracks.
    meta = track_metadata(ctx.lake, harvest)
    for row in rows[TRACKS]:
        if row.get("status") == FOUND:
            meta[row["track_id"]] = TrackMeta.of_row(row)
    artist_ms: dict[str, int] = {}
    album_ms: dict[str, int] = {}
    for track_id, ms in track_ms.items():
        m = meta.get(track_id)
        if not m:
            continue
        for sid, _ in m.artists:
            artist_ms[sid] = artist_ms.get(sid, 0) + ms
        if m.album_id:
            album_ms[m.album_id] = album_ms.get(m.album_id, 0) + ms
    ranked_artists = sorted(artist_ms, key=lambda k: (-artist_ms[k], k))
    ranked_albums = sorted(album_ms, key=lambda k: (-album_ms[k], k))
    if go_on and settings.fetch_artists:
        work, fail = fetcher("artist", ARTISTS, "artist_id", client.artist, sct.artist_row)
        go_on = loop.run("artist", state.due("artist", ranked_artists, ctx.now()), work, fail)
    if go_on and settings.fetch_albums:
        work, fail = fetcher("album", ALBUMS, "album_id", client.album, sct.album_row)
        loop.run("album", state.due("album", ranked_albums, ctx.now()), work, fail)
    return RunResult(report, state, rows, client.responses)


# ---------------------------------------------------------------------------------------------
# MusicBrainz artists
# ---------------------------------------------------------------------------------------------


def load_genre_list() -> frozenset[str]:
    """MusicBrainz's official genres, from the dbt seed kept in the project."""
    path = get_settings().paths.dbt_project_dir / "seeds" / "musicbrainz_genres.csv"
    if not path.exists():
        return frozenset()
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return frozenset(line.strip().strip('"').lower() for line in lines if line.strip())


def unharvested_poll_files(lake: Lake) -> list[Any]:
    """Raw polls saved since the catalogue run last harvested (no file is read)."""
    if not lake.lookup_state_db("spotify_api").exists():
        return raw_poll_files(lake)
    state = open_state(lake, "spotify_api")
    try:
        return _unharvested(lake, state)
    finally:
        state.close(commit=False)


def _unharvested(lake: Lake, state: LookupState) -> list[Path]:
    """The raw polls ``state`` has not harvested, oldest first."""
    done = state.harvested_paths()
    cut = len(str(lake.root)) + 1  # the paths as the state holds them, relative to the lake
    return [Path(p) for p in raw_poll_names(lake) if p[cut:] not in done]


def unharvested_polls(lake: Lake) -> Harvest:
    """Objects of the raw polls the catalogue run has not harvested yet.

    What it harvested is in the staged Spotify track lookups already (``track_metadata`` reads
    them), so the MusicBrainz and Nominatim runs need not re-read every raw poll ever saved
    (48 a day per account, ~0.3 MB each) on each run.
    """
    return read_harvest(unharvested_poll_files(lake))


def upgrade_origin_keys(lake: Lake) -> None:
    """Give MusicBrainz partitions written before ``origin_place_key`` existed that column.

    Computed by the one definition (``geo.origin_of``) from the areas each row holds, without a
    call, so the origins of artists found earlier reach dim_artist without waiting 180 days
    for their refresh. Each partition is rewritten once, atomically.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline import schemas
    from pipeline.io.parquet import read_provenance

    root = lake.dated_dir(MB_ARTISTS)
    for path in sorted(root.glob("date=*/*.parquet")) if root.exists() else []:
        if "origin_place_key" in pq.read_schema(path).names:
            continue
        items = pq.read_table(path).to_pylist()
        for item in items:
            item["origin_place_key"] = geo.origin_place_key(item)
        table = pa.Table.from_pylist(items, schema=schemas.MUSICBRAINZ_ARTISTS)
        write_parquet_atomic(path, table, provenance=read_provenance(path))
        logger.info("musicbrainz: %s given origin_place_key (%d rows)", path, len(items))


def reuse_name_answers(
    lake: Lake,
    state: LookupState,
    candidates: list[ArtistCandidate],
    now: dt.datetime,
    out: list[dict[str, Any]],
    report: RunReport,
) -> None:
    """An artist found by name and now known by Spotify ID is not asked again.

    Once a played track's Spotify lookup arrives, the artist's plays move from the key
    "name:<name>" to its Spotify ID, a new key that would cost a URL lookup, ISRC lookups and
    a search (17 calls for 5 artists already found). Instead the name answer is copied to the
    new key with its original ``fetched_at``: both go stale together, and the refresh then asks
    by the Spotify link. A name answer that was ``not_found`` is not reused: the link may
    resolve what the name could not.
    """
    from pipeline import schemas

    fresh = [
        c
        for c in candidates
        if c.spotify_artist_id
        and state.status("artist", c.key) is None
        and state.status("artist", mbt.name_key(c.name)) == FOUND
        and not state.is_due("artist", mbt.name_key(c.name), now)
    ]
    if not fresh:
        return
    by_name = latest_found(lake, MB_ARTISTS, "lookup_key")
    for cand in fresh:
        name_row = by_name.get(mbt.name_key(cand.name))
        if name_row is None:
            continue
        row = {k: v for k, v in name_row.items() if k in schemas.MUSICBRAINZ_ARTISTS.names}
        row.update(
            lookup_key=cand.key,
            spotify_artist_id=cand.spotify_artist_id,
            match_note="; ".join(
                n
                for n in (name_row.get("match_note"), f"same artist as {name_row['lookup_key']}")
                if n
            ),
        )
        out.append(row)
        state.record("artist", cand.key, FOUND, name_row["fetched_at"], source="musicbrainz")
        report.reused += 1


def run_artists(ctx: RunContext) -> RunResult:
    """Resolve every played artist in MusicBrainz: URL relation, ISRC, then careful name search."""
    from pipeline.clients.musicbrainz import MusicBrainzClient, spotify_artist_url

    settings = musicbrainz_settings()
    state = open_state(ctx.lake, "musicbrainz")
    report = RunReport("musicbrainz")
    reconcile(ctx.lake, state, "musicbrainz", report)
    rows: dict[str, list[dict[str, Any]]] = {MB_ARTISTS: []}
    now = ctx.now()

    upgrade_origin_keys(ctx.lake)
    harvest = unharvested_polls(ctx.lake)
    candidates = artist_candidates(track_stats(ctx.lake), track_metadata(ctx.lake, harvest))
    keys = [c.key for c in candidates]
    reuse_name_answers(ctx.lake, state, candidates, now, rows[MB_ARTISTS], report)
    due = set(state.due("artist", keys, now))
    report.wanted = len(keys)
    report.cached = len(keys) - len(due)

    if _held_back(state, now, report, "lookups"):
        return RunResult(report, state, rows)
    try:
        client = MusicBrainzClient(settings, clock=ctx.clock, sleep=ctx.sleep, now=ctx.now)
    except ValueError as exc:
        report.stopped = str(exc)
        return RunResult(report, state, rows)

    genres = load_genre_list()
    budget = _budget(state, ctx, settings.calls_per_run, settings.calls_per_day)
    loop = _Loop(ctx, state, budget, report, lambda: client.calls)
    by_key = {c.key: c for c in candidates}
    looked_up: dict[str, dict[str, Any]] = {}  # mbid -> full artist, so no MBID is asked twice

    def full_artist(mbid: str) -> dict[str, Any]:
        if mbid not in looked_up:
            budget.check()
            payload = client.lookup_artist(mbid)
            looked_up[mbid] = clean.obj(payload.get("artist", payload))
        return looked_up[mbid]

    def work(key: str) -> None:
        cand = by_key[key]
        method, score, note = None, None, ""
        facts: dict[str, Any] | None = None
        if cand.spotify_artist_id:
            try:
                budget.check()
                linked = mbt.url_artists(
                    client.lookup_url(spotify_artist_url(cand.spotify_artist_id))
                )
                artist, note = mbt.pick_named(cand.name, linked)
                if artist:
                    method, score = "url_relation", 100
                    facts = mbt.artist_facts(full_artist(str(artist["id"])), genres)
            except NotFound:
                note = "no MusicBrainz artist links this Spotify artist"
            for isrc in cand.isrcs if facts is None else []:
                try:
                    budget.check()
                    credited = mbt.isrc_artists(client.lookup_isrc(isrc))
                except NotFound:
                    continue
                wanted = mbt.normalise_name(cand.name)
                same = [a for a in credited if mbt.artist_name_key(a) == wanted]
                if len(same) == 1:
                    method, score, note = "isrc", 100, f"credited on ISRC {isrc}"
                    facts = mbt.artist_facts(full_artist(str(same[0]["id"])), genres)
                    break
        if facts is None:
            budget.check()
            found = mbt.search_results(client.search_artists(cand.name))
            choice = mbt.choose_by_name(cand.name, found, settings.search_min_score)
            score = choice.score
            note = "; ".join(n for n in (note, choice.note) if n)
            if choice.artist is not None:
                method = "name_search"
                facts = mbt.artist_facts(choice.artist, genres)
            elif choice.candidates:
                method = "ambiguous_name"
        at = ctx.now()
        status = FOUND if facts is not None else NOT_FOUND
        rows[MB_ARTISTS].append(
            {
                "lookup_key": key,
                "spotify_artist_id": cand.spotify_artist_id,
                "query_name": cand.name,
                **(facts or {}),
                "match_method": method,
                # A score belongs to the artist it scored: a not_found row has no artist, so it
                # carries none (the best candidate's score, another artist's, stays in the note).
                "match_score": score if status == FOUND else None,
                "match_note": note or None,
                "status": status,
                "source": "musicbrainz",
                "fetched_at": at,
            }
        )
        state.record("artist", key, status, at, source="musicbrainz")
        if status == FOUND:
            report.found += 1
        else:
            report.not_found += 1

    def fail(key: str, error: str) -> None:
        at = ctx.now()
        cand = by_key[key]
        rows[MB_ARTISTS].append(
            {
                "lookup_key": key,
                "spotify_artist_id": cand.spotify_artist_id,
                "query_name": cand.name,
                "match_note": error[:500],
                "status": FAILED,
                "source": "musicbrainz",
                "fetched_at": at,
            }
        )
        state.record("artist", key, FAILED, at, source="musicbrainz", error=error[:500])

    loop.run("artist", [k for k in keys if k in due], work, fail)
    return RunResult(report, state, rows, client.responses)


# ---------------------------------------------------------------------------------------------
# Nominatim places
# ---------------------------------------------------------------------------------------------


def run_places(ctx: RunContext) -> RunResult:
    """Geocode the origins of matched artists (begin area, else area), most listened first."""
    from pipeline.clients.geocoder import Geocoder

    settings = nominatim_settings()
    state = open_state(ctx.lake, "nominatim")
    report = RunReport("nominatim")
    reconcile(ctx.lake, state, "nominatim", report)
    rows: dict[str, list[dict[str, Any]]] = {GEO_PLACES: []}
    now = ctx.now()

    artists = latest_found(ctx.lake, MB_ARTISTS, "lookup_key")
    harvest = unharvested_polls(ctx.lake)
    ms = {
        c.key: c.ms
        for c in artist_candidates(track_stats(ctx.lake), track_metadata(ctx.lake, harvest))
    }
    places: dict[str, geo.Place] = {}
    weight: dict[str, int] = {}
    for key, artist in artists.items():
        place = geo.origin_of(artist)
        if place is None:
            continue
        places[place.key] = place
        weight[place.key] = weight.get(place.key, 0) + ms.get(key, 0)
    keys = sorted(places, key=lambda k: (-weight[k], k))
    due = state.due("place", keys, now)
    report.wanted = len(keys)
    report.cached = len(keys) - len(due)

    if _held_back(state, now, report, "geocoding"):
        return RunResult(report, state, rows)
    try:
        geocoder = Geocoder(settings, clock=ctx.clock, sleep=ctx.sleep, now=ctx.now)
    except ValueError as exc:
        report.stopped = str(exc)
        return RunResult(report, state, rows)
    budget = _budget(state, ctx, settings.calls_per_run, settings.calls_per_day)
    loop = _Loop(ctx, state, budget, report, lambda: geocoder.calls)

    def work(key: str) -> None:
        place = places[key]
        result = geocoder.geocode(place.query(), place.country_code)
        at = ctx.now()
        base = {"status": FOUND, "source": "nominatim", "fetched_at": at}
        if result is not None and not place.accepts(result):
            # countrycodes should already exclude it; a place in another country is not this one.
            logger.info(
                "nominatim: %r answered with a place in %s, not %s: not found",
                place.name,
                clean.obj(result.get("address")).get("country_code"),
                place.country_code,
            )
            result = None
        if result is None:
            rows[GEO_PLACES].append(
                {"place_key": key, "query": place.name, **base, "status": NOT_FOUND}
            )
            state.record("place", key, NOT_FOUND, at, source="nominatim")
            report.not_found += 1
            return
        rows[GEO_PLACES].append({**geo.place_row(place, result), **base})
        state.record("place", key, FOUND, at, source="nominatim")
        report.found += 1

    def fail(key: str, error: str) -> None:
        at = ctx.now()
        rows[GEO_PLACES].append(
            {
                "place_key": key,
                "query": places[key].name,
                "status": FAILED,
                "source": "nominatim",
                "fetched_at": at,
            }
        )
        state.record("place", key, FAILED, at, source="nominatim", error=error[:500])

    loop.run("place", due, work, fail)
    return RunResult(report, state, rows, geocoder.responses)


# ---------------------------------------------------------------------------------------------
# Landing a run
# ---------------------------------------------------------------------------------------------


def _partition_rows(path: Any) -> list[dict[str, Any]]:
    """The rows an earlier run of the same day wrote (none when there is no readable file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.exists():
        return []
    try:
        return list(pq.read_table(path).to_pylist())
    except (OSError, pa.ArrowInvalid) as exc:
        logger.warning("%s is unreadable (%s); rewriting it with this run's rows", path, exc)
        return []


def finish(lake: Lake, date: dt.date, result: RunResult, order: list[str]) -> None:
    """Write raw responses, then every partition (``order``, last = completion marker), then
    commit the state: an answer is never in the state without being in the lake."""
    import pyarrow as pa

    from pipeline import schemas

    report = result.report
    if result.responses:
        run_id = f"{dt.datetime.now(dt.UTC):%H%M%S}-{uuid.uuid4().hex[:8]}"
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in result.responses)
        write_bytes_atomic(lake.raw_enrichment(report.service, date, run_id), body.encode())
    for dataset in order:
        schema = schemas.DATED_DATASETS[dataset]
        items = result.rows.get(dataset, [])
        target = lake.dated_partition(dataset, date)
        report.rows[dataset] = len(items)
        # A second run on the same day (every cycle harvests its new polls) adds to the day's
        # partition: replacing it would lose answers the state already holds.
        earlier = _partition_rows(target)
        everything = earlier + items
        table = (
            pa.Table.from_pylist(everything, schema=schema) if everything else schemas.empty(schema)
        )
        write_parquet_atomic(target, table, provenance={"run": report.as_dict()})
    if result.state is not None:
        result.state.close(commit=True)
    logger.info("%s", report.summary())
