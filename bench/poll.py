"""The cycle's poll: the product's ``PollRecentlyPlayed`` replaying a cassette written per run.

``poll_cassette(data_dir, seed)`` is what ``python -m bench.steps poll-cassette DATA_DIR SEED``
runs (measured as its own process tree):

1. writes ``<cassettes>/poll-<seed>.yaml``: the token refresh (``POST /api/token``) and one
   recently-played page of 50 items whose objects are copies of the real items in
   ``tests/fixtures/spotify/`` (every key kept; track ID, URI, links, name and ISRC varied by
   seed and position; albums and artists stay the real ones), ``played_at`` strictly
   increasing by the millisecond after the newest play the lake holds for today, all on today
   (UTC);
2. sets up what a poll needs in that lake: account ``me`` (configured in ``config/base.yaml``),
   app credentials in the environment, a token cache written by the product's ``save_token``
   (0600) whose access token has expired, so each poll refreshes it as every other real
   30-minute poll does;
3. runs the poll phases of ``music-tracker cron poll`` (``pipeline.commands.cron.job_phases``:
   ``PollRecentlyPlayed`` for every account, which stages the days it touched, then
   ``StagePlays`` of yesterday; the job's last phase, ``DailyPipeline(today)``, is the
   ``music-tracker build`` the scenario measures next) in-process under
   ``vcr.use_cassette(..., record_mode="none")``, with every Spotify base URL pointing at an
   ``.invalid`` host, so no request can reach the network; it fails unless both recorded
   exchanges were played and 50 plays were landed.

The slot is the next minute after the account's last polled slot (``spotify.poll_interval_minutes``
is 1 here), so runs made within one half hour are each a new poll, not a completed task.

``prepare_cycle(data_dir, day)`` (``bench.steps cycle-prep``, not measured) makes the day's
enrichment run with nothing new to fetch, see its docstring.

``age_polls(data_dir, days, per_day, plays)`` (``bench.steps age-polls``, not measured) gives a
lake the saved polls of a household that has polled for ``days`` days: what grows with a lake's
age, which a lake imported fresh never shows (see its docstring).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from bench.histories import CACHE

ROOT = Path(__file__).resolve().parent.parent
REAL_PAGES = [
    ROOT / "tests" / "fixtures" / "spotify" / "zmb3_recently_played_first5.json",
    ROOT / "tests" / "fixtures" / "spotify" / "java_recently_played_limit2_2023.json",
]
ACCOUNT = "me"
PLAYS = 50
API = "https://api.spotify.bench.invalid/v1"
ACCOUNTS = "https://accounts.spotify.bench.invalid"
CLIENT_ID = "bench-client-id"
CLIENT_SECRET = "bench-client-secret"
#: At most this far apart (a 30-minute poll's 50 plays), closer when the day has less room left.
STEP_MS = 30_000
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def poll_env() -> dict[str, str]:
    """Settings overrides of the poll step: Spotify at the cassette's hosts, 1-minute slots."""
    return {
        "MUSIC_TRACKER__SPOTIFY__API_BASE_URL": API,
        "MUSIC_TRACKER__SPOTIFY__ACCOUNTS_BASE_URL": ACCOUNTS,
        "MUSIC_TRACKER__SPOTIFY__POLL_INTERVAL_MINUTES": "1",
        "SPOTIFY_CLIENT_ID": CLIENT_ID,
        "SPOTIFY_CLIENT_SECRET": CLIENT_SECRET,
    }


# ---------------------------------------------------------------------------------------------
# The cassette
# ---------------------------------------------------------------------------------------------


def real_items() -> list[dict[str, Any]]:
    """The real recently-played item objects (7: zmb3's five, java's two)."""
    items: list[dict[str, Any]] = []
    for path in REAL_PAGES:
        items += json.loads(path.read_text(encoding="utf-8"))["items"]
    return items


def spotify_id(*parts: object) -> str:
    """A deterministic 22-character base62 ID, shaped like Spotify's."""
    number = int.from_bytes(hashlib.sha256(repr(parts).encode()).digest(), "big")
    out = []
    for _ in range(22):
        number, rest = divmod(number, 62)
        out.append(_BASE62[rest])
    return "".join(out)


def played_at(ms: int) -> str:
    """Spotify's ``played_at`` form, to the millisecond."""
    when = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def bench_item(template: dict[str, Any], seed: int, k: int, ms: int) -> dict[str, Any]:
    """A copy of a real item as another track (ID, links, name, ISRC varied), played at ``ms``."""
    item = copy.deepcopy(template)
    track = item["track"]
    track_id = spotify_id("bench-track", seed, k)
    track.update(
        id=track_id,
        uri=f"spotify:track:{track_id}",
        href=f"https://api.spotify.com/v1/tracks/{track_id}",
        name=f"{track['name']} (bench {seed}.{k})",
    )
    track["external_urls"] = {"spotify": f"https://open.spotify.com/track/{track_id}"}
    track["external_ids"] = {"isrc": f"XXBEN{seed % 100:02d}{k:05d}"}
    item["played_at"] = played_at(ms)
    return item


def page(items: list[dict[str, Any]]) -> bytes:
    """A recently-played page shaped like the real java sample (newest item first)."""
    stamps = sorted(
        int(dt.datetime.fromisoformat(i["played_at"].replace("Z", "+00:00")).timestamp() * 1000)
        for i in items
    )
    body = {
        "items": items,
        "next": "https://api.spotify.com/v1/me/player/recently-played"
        f"?before={stamps[0]}&limit={PLAYS}",
        "cursors": {"after": str(stamps[-1]), "before": str(stamps[0])},
        "limit": PLAYS,
        "href": f"https://api.spotify.com/v1/me/player/recently-played?limit={PLAYS}",
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def play_times(newest_ms: int, day: dt.date, seed: int, now_ms: int | None = None) -> list[int]:
    """``PLAYS`` times after ``newest_ms``, strictly increasing, all on ``day`` (UTC) and none
    after ``now_ms``: a lake that ran many cycles in a day gets its plays closer together
    instead of plays in the future (which the warehouse's ``assert_no_play_in_future`` fails).
    """
    day_start = int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)
    day_end = day_start + 86_400_000 - 1
    if now_ms is not None:
        day_end = min(day_end, now_ms)
    start = max(newest_ms, day_start) + 1 + seed % 997
    step = min(STEP_MS, (day_end - start) // PLAYS)
    if step < 1:
        raise SystemExit(f"no room left on {day} after {played_at(newest_ms)} for {PLAYS} plays")
    return [start + k * step for k in range(PLAYS)]


def cassette(items: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    """vcrpy's format: the token refresh, then the recently-played page."""
    token = {
        "access_token": f"bench-access-token-{seed}",
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "user-read-recently-played",
    }
    json_headers = {"Content-Type": ["application/json; charset=utf-8"]}
    return {
        "version": 1,
        "interactions": [
            {
                "request": {
                    "body": "<scrubbed>",
                    "headers": {"Authorization": ["<redacted>"]},
                    "method": "POST",
                    "uri": f"{ACCOUNTS}/api/token",
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": json_headers,
                    "body": {"string": json.dumps(token)},
                },
            },
            {
                "request": {
                    "body": None,
                    "headers": {"Accept": ["application/json"], "Authorization": ["<redacted>"]},
                    "method": "GET",
                    "uri": f"{API}/me/player/recently-played?limit={PLAYS}",
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": json_headers,
                    "body": {"string": page(items).decode("utf-8")},
                },
            },
        ],
    }


# ---------------------------------------------------------------------------------------------
# The lake's side
# ---------------------------------------------------------------------------------------------


def newest_play_ms(day: dt.date) -> int:
    """Newest play of the account on ``day`` (staged or landed by a poll), or its poll cursor."""
    from pipeline.ingest.poll_state import load_state
    from pipeline.paths import lake
    from pipeline.transform.recently_played import epoch_ms

    the_lake = lake()
    newest = int(load_state(the_lake, ACCOUNT).get("cursor_ms") or 0)
    folders = [the_lake.plays_partition(day).parent, the_lake.poll_file(ACCOUNT, day, "x").parent]
    for folder in folders:
        for path in sorted(folder.glob("*.parquet")):
            top = pc.max(pq.read_table(path, columns=["played_at"])["played_at"]).as_py()
            if top is not None:
                newest = max(newest, epoch_ms(top))
    return newest


def write_expired_token() -> Path:
    """The account's token cache as `music-tracker auth` left it, access token expired."""
    from pipeline.clients.spotify import save_token

    now = dt.datetime.now(dt.UTC)
    return save_token(
        ACCOUNT,
        {
            "account": ACCOUNT,
            "access_token": "bench-access-token-expired",
            "refresh_token": "bench-refresh-token",
            "token_type": "Bearer",
            "scope": "user-read-recently-played",
            "expires_at": int((now - dt.timedelta(minutes=5)).timestamp()),
            "first_authorised_at": (now - dt.timedelta(days=10)).isoformat(),
            "last_refreshed_at": (now - dt.timedelta(hours=1, minutes=5)).isoformat(),
        },
    )


def next_slot(now: dt.datetime) -> dt.datetime:
    """The slot of ``now``, or the minute after the account's last polled slot if later."""
    from pipeline.ingest.poll_state import load_state
    from pipeline.ingest.slots import slot_of
    from pipeline.paths import lake

    slot = slot_of(now).replace(tzinfo=dt.UTC)
    last = load_state(lake(), ACCOUNT).get("last_slot")
    if last:
        after = dt.datetime.fromisoformat(str(last)).replace(tzinfo=dt.UTC)
        slot = max(slot, after + dt.timedelta(minutes=1))
    return slot


def poll_cassette(
    data_dir: Path,
    seed: int,
    cassettes: Path | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Write this run's cassette, then run the product's poll replaying it (see module doc).

    Settings must already point at ``data_dir`` with ``poll_env()`` applied. ``now`` (UTC,
    default the clock) is the poll's moment: its day holds the plays and the slot. Tests pin
    it, because a suite run just before midnight UTC has no slot left in today.
    """
    import vcr

    from pipeline.commands.cron import job_phases, run_phases
    from pipeline.ingest.poll_state import load_state
    from pipeline.paths import lake

    now = now or dt.datetime.now(dt.UTC)
    day = now.date()
    templates = real_items()
    times = play_times(newest_play_ms(day), day, seed, int(now.timestamp() * 1000))
    items = [bench_item(templates[k % len(templates)], seed, k, ms) for k, ms in enumerate(times)]
    items.reverse()  # newest first, as Spotify lists them
    path = (cassettes or CACHE / "cassettes") / f"poll-{seed}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cassette(items, seed), sort_keys=False), encoding="utf-8")
    write_expired_token()
    slot = next_slot(now)
    if slot.date() != day:
        raise SystemExit(f"no poll slot left today in {data_dir} (last slot {slot:%H:%M})")
    phases = []  # the cron poll job up to DailyPipeline(today), which is measured next
    for phase in job_phases("poll", slot):
        if any(t.task_family == "DailyPipeline" for t in phase):
            break
        phases.append(phase)
    with vcr.use_cassette(str(path), record_mode="none") as tape:
        outcome = run_phases(phases, central=False, workers=1)
    state = load_state(lake(), ACCOUNT)
    result = {
        "cassette": str(path),
        "slot": slot.strftime("%Y-%m-%dT%H:%M"),
        "exit": outcome.code,
        "plays": state.get("plays_last_poll"),
        "status": state.get("last_poll_status"),
        "error": state.get("last_error"),
        "played": tape.play_count,
        "first": played_at(times[0]),
        "last": played_at(times[-1]),
    }
    if outcome.code or state.get("plays_last_poll") != PLAYS or not tape.all_played:
        raise SystemExit(f"the poll did not land {PLAYS} plays from the cassette: {result}")
    return result


def age_polls(data_dir: Path, days: int, per_day: int, plays: int) -> dict[str, int]:
    """Land ``per_day`` polls of ``plays`` new plays on each of the ``days`` days before today.

    Each poll is what a real 30-minute poll leaves: its response kept byte for byte under
    ``raw/`` (a page of copies of the real items, as the cycle's cassette), then landed by the
    product's own ``land_response`` (a poll file per day it touched, the cursor moved). Polls
    that bring nothing new leave no file, so ``per_day`` counts the half hours with listening
    (16 is a busy listener: ~5,800 poll files a year). Settings must point at ``data_dir``.
    """
    from pipeline.ingest.poll_state import load_state, save_state
    from pipeline.ingest.polls import land_response
    from pipeline.io.atomic import write_bytes_atomic
    from pipeline.paths import lake
    from pipeline.transform.slots import make_poll_id

    the_lake, templates = lake(), real_items()
    state = load_state(the_lake, ACCOUNT)
    today = dt.datetime.now(dt.UTC).date()
    landed = 0
    for back in range(days, 0, -1):
        day = today - dt.timedelta(days=back)
        morning = dt.datetime.combine(day, dt.time(8), tzinfo=dt.UTC)
        for n in range(per_day):
            slot = morning + dt.timedelta(minutes=30 * n)
            first_ms = int((slot - dt.timedelta(minutes=29)).timestamp() * 1000)
            items = [  # three minutes apart, in the half hour before the poll
                bench_item(templates[k % len(templates)], 1000 + back, n * 100 + k, ms)
                for k, ms in enumerate(first_ms + k * 180_000 for k in range(plays))
            ]
            items.reverse()  # newest first, as Spotify lists them
            fetched = slot + dt.timedelta(seconds=7)
            poll_id = make_poll_id(ACCOUNT, fetched)
            raw = the_lake.raw_recently_played(ACCOUNT, fetched.date(), poll_id)
            body = page(items)
            write_bytes_atomic(raw, body)
            landed += land_response(the_lake, ACCOUNT, body, poll_id, raw, state).plays
    save_state(the_lake, ACCOUNT, state)
    return {"polls": days * per_day, "plays": landed}


def prepare_cycle(data_dir: Path, day: dt.date) -> dict[str, int]:
    """Make ``DailyPipeline(day)`` run the day's enrichment with nothing new to fetch.

    * The Spotify catalogue lookup state marks every track the lake has played, and the albums
      and artists of the cassette's real items, as found: what a lake whose catalogue has
      converged holds (the state only; the lookup rows themselves are not invented).
      MusicBrainz and Nominatim ask nothing while ``musicbrainz.contact`` and
      ``nominatim.user_agent`` are empty (as in config/base.yaml).
    * The enrichment tasks are per UTC day (their output is the day's lookup partitions), so
      only the first cycle of a day runs them. Each measured cycle is made that cycle: the
      day's partitions written by earlier cycles are renamed within their partition (readers
      glob ``date=*/*.parquet`` and still see their rows), so the tasks run again.

    Returns the number of entities marked and partitions set aside.
    """
    from pipeline.clients.spotify_catalogue import is_spotify_id
    from pipeline.enrich import runs
    from pipeline.enrich.candidates import track_stats
    from pipeline.enrich.state import FOUND
    from pipeline.paths import lake

    the_lake = lake()
    now = dt.datetime.now(dt.UTC)
    state = runs.open_state(the_lake, "spotify_api")
    wanted: list[tuple[str, str]] = [
        ("track", s.track_id) for s in track_stats(the_lake) if is_spotify_id(s.track_id)
    ]
    for item in real_items():
        track = item["track"]
        wanted.append(("album", track["album"]["id"]))
        wanted += [("artist", a["id"]) for a in track["artists"] + track["album"]["artists"]]
    marked = 0
    for entity, key in wanted:
        if state.is_due(entity, key, now):
            state.record(entity, key, FOUND, now, source="bench")
            marked += 1
    state.close(commit=True)
    stamp = now.strftime("%H%M%S%f")
    moved = 0
    for dataset in (runs.TRACKS, runs.ALBUMS, runs.ARTISTS, runs.MB_ARTISTS, runs.GEO_PLACES):
        target = the_lake.dated_partition(dataset, day)
        if target.exists():
            os.replace(target, target.with_name(f"earlier-{stamp}.parquet"))
            moved += 1
    return {"marked_found": marked, "partitions_set_aside": moved}
