"""``music-tracker enrich ...``: refresh the genre list, show where enrichment stands."""

from __future__ import annotations

import argparse
import csv
import io
import sys

from pipeline.settings import get_settings, musicbrainz_settings


def genres_from_txt(text: str) -> list[str]:
    """The genre names of ``/ws/2/genre/all?fmt=txt`` (one per line), cleaned and sorted."""
    names = {line.strip().lower() for line in text.splitlines() if line.strip()}
    return sorted(names)


def write_genre_seed(genres: list[str]) -> str:
    """Write ``dbt_project/seeds/musicbrainz_genres.csv`` (one column ``genre``); its path."""
    from pipeline.io.atomic import write_bytes_atomic

    path = get_settings().paths.dbt_project_dir / "seeds" / "musicbrainz_genres.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["genre"])
    writer.writerows([g] for g in genres)
    write_bytes_atomic(path, buffer.getvalue().encode("utf-8"))
    return str(path)


def cmd_refresh_genres(args: argparse.Namespace) -> int:
    """Fetch MusicBrainz's official genre list and rewrite the dbt seed."""
    from pipeline.clients.http import HttpError
    from pipeline.clients.musicbrainz import MusicBrainzClient

    try:
        client = MusicBrainzClient(musicbrainz_settings())
        text = client.genres_txt()
    except (ValueError, HttpError) as exc:
        print(f"error: could not fetch the genre list: {exc}", file=sys.stderr)
        return 1
    genres = genres_from_txt(text)
    if len(genres) < 100:
        print(
            f"error: only {len(genres)} genres in the answer; seed left as it was", file=sys.stderr
        )
        return 1
    path = write_genre_seed(genres)
    print(f"{len(genres)} MusicBrainz genres written to {path}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Per service: entities by status, calls today, and any pause (when it resumes)."""
    import datetime as dt

    from pipeline.enrich.runs import open_state
    from pipeline.enrich.state import StateUnreadable
    from pipeline.paths import lake

    the_lake = lake()
    today = dt.datetime.now(dt.UTC).date()
    for service in ("spotify_api", "musicbrainz", "nominatim"):
        if not the_lake.lookup_state_db(service).exists():
            print(f"{service}: no lookups yet")
            continue
        try:
            state = open_state(the_lake, service, repair=False)
        except StateUnreadable as exc:
            print(f"{service}: {exc}; the next enrichment run sets it aside and rebuilds it")
            continue
        counts = ", ".join(f"{e} {s}: {n}" for (e, s), n in sorted(state.counts().items()))
        resume = state.resume_at()
        print(f"{service}: {counts or 'no entities'}; calls today: {state.calls_on(today)}")
        if resume is not None:
            print(f"  paused until {resume.isoformat()} ({state.get('pause_reason')})")
        state.close(commit=False)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``enrich refresh-genres`` and ``enrich status``."""
    enrich = subparsers.add_parser("enrich", help="enrichment: genre list, lookup status")
    sub = enrich.add_subparsers(dest="enrich_command", required=True)
    refresh = sub.add_parser(
        "refresh-genres", help="refresh dbt_project/seeds/musicbrainz_genres.csv from MusicBrainz"
    )
    refresh.set_defaults(func=cmd_refresh_genres)
    status = sub.add_parser("status", help="lookups by status, calls today, pauses per service")
    status.set_defaults(func=cmd_status)
