"""Generate realistic listening history in Spotify's *Extended Streaming History* format.

Deterministic by seed, at any size: the bundled sample (``data/sample/``, a few thousand plays
over a year) and the benchmark histories (100k, 1M plays over ten years) come from this one
generator. Plays follow a Zipf-like popularity over artists and their tracks, arrive in sessions
at plausible local hours (evenings and weekends heavier), include skips, shuffle, offline plays,
podcasts, the odd local file, and are written in files of ~15,000 rows like Spotify's.

Run ``python -m pipeline.demo.generate --help``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Real artists (several appear in the API and MusicBrainz samples) first, then invented ones.
_REAL_ARTISTS = [
    "Labrinth",
    "NCT DREAM",
    "Rick Astley",
    "Serge Gainsbourg",
    "The Killers",
    "Cyndi Lauper",
    "Pitbull",
    "Bad Omens",
    "The Beatles",
    "Burzum",
    "Jack Harlow",
    "Big Sean",
    "Aminé",
    "LLusion",
    "dhruv",
    "BLEM",
    "Björk",
    "Sigur Rós",
    "Daft Punk",
    "Rosalía",
    "Stromae",
    "Fela Kuti",
    "Nina Simone",
    "Radiohead",
    "Kraftwerk",
    "Arctic Monkeys",
    "Beyoncé",
    "Kendrick Lamar",
    "Taylor Swift",
    "Bad Bunny",
    "Tame Impala",
    "Massive Attack",
]
_WORDS = [
    "Midnight",
    "Echo",
    "Golden",
    "River",
    "Neon",
    "Paper",
    "Silver",
    "Ghost",
    "Summer",
    "Velvet",
    "Static",
    "Ocean",
    "Glass",
    "Wild",
    "Electric",
    "Quiet",
    "Fire",
    "Blue",
    "Hollow",
    "Satellite",
    "Garden",
    "Mirror",
    "Thunder",
    "Honey",
    "Northern",
    "Lights",
]
_SHOWS = [
    ("The Daily Groove", 1_500_000),
    ("Sick Riff Hall of Fame", 2_400_000),
    ("Song Exploder", 1_200_000),
    ("Switched On Pop", 2_700_000),
]
_PLATFORMS = [("android", 0.5), ("ios", 0.2), ("windows", 0.15), ("osx", 0.1), ("web_player", 0.05)]
_HOUR_WEIGHTS = [
    1,
    0.5,
    0.3,
    0.2,
    0.2,
    0.4,
    1.5,
    3,
    3.5,
    2.5,
    2,
    2,
    2.5,
    2,
    2,
    2.2,
    2.8,
    3.5,
    4,
    4.5,
    4.5,
    4,
    3,
    2,
]


@dataclass(frozen=True)
class Track:
    """A generated catalogue entry."""

    uri: str
    name: str
    artist: str
    album: str
    duration_ms: int


def _spotify_id(*parts: object) -> str:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    number = int.from_bytes(digest[:17], "big")
    chars = []
    for _ in range(22):
        number, rem = divmod(number, 62)
        chars.append(_B62[rem])
    return "".join(chars)


def build_catalogue(
    rng: random.Random, n_artists: int, tracks_per_artist: int
) -> list[list[Track]]:
    """Artists, each with albums and tracks, most popular artist first."""
    artists: list[str] = []
    for i in range(n_artists):
        if i < len(_REAL_ARTISTS):
            artists.append(_REAL_ARTISTS[i])
        else:
            artists.append(f"{rng.choice(_WORDS)} {rng.choice(_WORDS)} {i}")
    catalogue: list[list[Track]] = []
    for artist in artists:
        tracks = []
        n_albums = max(1, tracks_per_artist // 10)
        for t in range(tracks_per_artist):
            album = f"{rng.choice(_WORDS)} {rng.choice(_WORDS)}" + (
                f" Vol. {t % n_albums + 1}" if n_albums > 1 else ""
            )
            name = f"{rng.choice(_WORDS)} {rng.choice(_WORDS).lower()}"
            if rng.random() < 0.08:
                name += f" (feat. {rng.choice(artists[:20])})"
            tracks.append(
                Track(
                    uri=f"spotify:track:{_spotify_id(artist, t)}",
                    name=name,
                    artist=artist,
                    album=album,
                    duration_ms=rng.randint(120_000, 330_000),
                )
            )
        catalogue.append(tracks)
    return catalogue


def _zipf_weights(n: int, s: float) -> list[float]:
    return [1 / (k**s) for k in range(1, n + 1)]


def generate_plays(
    n_plays: int,
    start: dt.date,
    end: dt.date,
    seed: int = 42,
    timezone: str = "Europe/Berlin",
    n_artists: int = 120,
    tracks_per_artist: int = 12,
    podcast_share: float = 0.04,
) -> Iterator[dict]:
    """Yield ``n_plays`` export rows between ``start`` and ``end`` (local days), in time order."""
    rng = random.Random(seed)
    zone = ZoneInfo(timezone)
    catalogue = build_catalogue(rng, n_artists, tracks_per_artist)
    # Cumulative weights, computed once: rng.choices() would redo the O(n) sum on every call
    # (6,000 artists x 1M plays). Same draws as weights=..., so every seed's output is unchanged.
    artist_cum = list(itertools.accumulate(_zipf_weights(len(catalogue), 1.1)))
    track_cum = list(itertools.accumulate(_zipf_weights(tracks_per_artist, 0.8)))
    days = (end - start).days + 1
    plays_per_day = n_plays / days
    produced = 0
    for day_index in range(days):
        day = start + dt.timedelta(days=day_index)
        remaining_days = days - day_index
        target = (n_plays - produced) / remaining_days
        weekend = day.weekday() >= 5
        today = max(0, round(rng.gauss(target * (1.25 if weekend else 0.9), plays_per_day * 0.4)))
        if day_index == days - 1:
            today = n_plays - produced
        today = min(today, n_plays - produced)
        if today <= 0:
            continue
        hour = rng.choices(range(24), weights=_HOUR_WEIGHTS)[0]
        clock = dt.datetime.combine(day, dt.time(hour, rng.randint(0, 59)), tzinfo=zone)
        platform = rng.choices([p for p, _ in _PLATFORMS], weights=[w for _, w in _PLATFORMS])[0]
        shuffle = rng.random() < 0.4
        offline = rng.random() < 0.05
        session_left = rng.randint(3, 25)
        for _ in range(today):
            if session_left == 0:
                gap_hours = rng.uniform(0.6, 5)
                clock += dt.timedelta(hours=gap_hours)
                platform = rng.choices(
                    [p for p, _ in _PLATFORMS], weights=[w for _, w in _PLATFORMS]
                )[0]
                shuffle = rng.random() < 0.4
                offline = rng.random() < 0.05
                session_left = rng.randint(3, 25)
            session_left -= 1
            if rng.random() < podcast_share:
                show, length = rng.choice(_SHOWS)
                episode_no = rng.randint(1, 200)
                ms = rng.randint(length // 4, length)
                clock += dt.timedelta(milliseconds=ms)
                yield _row(
                    clock,
                    ms,
                    platform,
                    shuffle=False,
                    offline=offline,
                    episode=(
                        f"Episode {episode_no}",
                        show,
                        f"spotify:episode:{_spotify_id(show, episode_no)}",
                    ),
                    reason_start="clickrow",
                    reason_end="endplay",
                    skipped=False,
                )
            else:
                artist_tracks = rng.choices(catalogue, cum_weights=artist_cum)[0]
                track = rng.choices(artist_tracks, cum_weights=track_cum)[0]
                skipped = rng.random() < 0.22
                ms = rng.randint(2_000, 30_000) if skipped else track.duration_ms
                clock += dt.timedelta(milliseconds=ms)
                local_file = rng.random() < 0.003
                yield _row(
                    clock,
                    ms,
                    platform,
                    shuffle=shuffle,
                    offline=offline,
                    track=track,
                    local_file=local_file,
                    reason_start=rng.choice(["trackdone", "trackdone", "fwdbtn", "clickrow"]),
                    reason_end="fwdbtn" if skipped else "trackdone",
                    skipped=skipped,
                )
            clock += dt.timedelta(seconds=rng.randint(0, 3))
            produced += 1


def _row(
    ended: dt.datetime,
    ms: int,
    platform: str,
    *,
    shuffle: bool,
    offline: bool,
    reason_start: str,
    reason_end: str,
    skipped: bool,
    track: Track | None = None,
    episode: tuple[str, str, str] | None = None,
    local_file: bool = False,
) -> dict:
    ts = ended.astimezone(dt.UTC)
    return {
        "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "platform": platform,
        "ms_played": ms,
        "conn_country": "DE",
        "ip_addr": "192.0.2.10",
        "master_metadata_track_name": track.name if track else None,
        "master_metadata_album_artist_name": track.artist if track else None,
        "master_metadata_album_album_name": track.album if track else None,
        "spotify_track_uri": None if (track is None or local_file) else track.uri,
        "episode_name": episode[0] if episode else None,
        "episode_show_name": episode[1] if episode else None,
        "spotify_episode_uri": episode[2] if episode else None,
        "audiobook_title": None,
        "audiobook_uri": None,
        "audiobook_chapter_uri": None,
        "audiobook_chapter_title": None,
        "reason_start": reason_start,
        "reason_end": reason_end,
        "shuffle": shuffle,
        "skipped": skipped,
        "offline": offline,
        "offline_timestamp": int(ts.timestamp()) if offline else 0,
        "incognito_mode": False,
    }


def write_export(rows: Iterator[dict], out_dir: Path, rows_per_file: int = 15_000) -> list[Path]:
    """Write rows into ``Streaming_History_Audio_<years>_<n>.json`` files like Spotify's."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    batch: list[dict] = []

    def flush() -> None:
        first, last = batch[0]["ts"][:4], batch[-1]["ts"][:4]
        years = first if first == last else f"{first}-{last}"
        path = out_dir / f"Streaming_History_Audio_{years}_{len(written)}.json"
        path.write_text(json.dumps(batch, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
        batch.clear()

    for row in rows:
        batch.append(row)
        if len(batch) >= rows_per_file:
            flush()
    if batch:
        flush()
    return written


def to_account_data(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """The same plays as the older *Account data* export shows them (music, podcast files)."""
    music: list[dict] = []
    podcast: list[dict] = []
    for row in rows:
        end = row["ts"][:16].replace("T", " ")
        if row["episode_name"]:
            podcast.append(
                {
                    "endTime": end,
                    "podcastName": row["episode_show_name"],
                    "episodeName": row["episode_name"],
                    "msPlayed": row["ms_played"],
                }
            )
        else:
            music.append(
                {
                    "endTime": end,
                    "artistName": row["master_metadata_album_artist_name"],
                    "trackName": row["master_metadata_track_name"],
                    "msPlayed": row["ms_played"],
                }
            )
    return music, podcast


def main(argv: list[str] | None = None) -> None:
    """Command line: write a synthetic export folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--plays", type=int, default=3000)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2025, 1, 1))
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2025, 12, 31))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--artists", type=int, default=120)
    parser.add_argument("--tracks-per-artist", type=int, default=12)
    parser.add_argument("--rows-per-file", type=int, default=15_000)
    parser.add_argument(
        "--account-data-overlap",
        type=int,
        default=0,
        help="also write the last N plays as an Account-data export (they overlap: dedupe demo)",
    )
    args = parser.parse_args(argv)
    rows = generate_plays(
        args.plays,
        args.start,
        args.end,
        seed=args.seed,
        n_artists=args.artists,
        tracks_per_artist=args.tracks_per_artist,
    )
    if args.account_data_overlap:
        rows_list = list(rows)
        music, podcast = to_account_data(rows_list[-args.account_data_overlap :])
        for name, data in (
            ("StreamingHistory_music_0.json", music),
            ("StreamingHistory_podcast_0.json", podcast),
        ):
            path = args.out_dir / name
            args.out_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
            print(path)  # noqa: T201 - a command-line tool's output
        rows = iter(rows_list)
    for path in write_export(rows, args.out_dir, args.rows_per_file):
        print(path)  # noqa: T201 - a command-line tool's output


if __name__ == "__main__":
    main()
