"""Measure enrichment on the bundled sample: calls per 1,000 tracks, hit rate, time to converge.

``uv run python tests/measure_enrichment.py`` imports data/sample into a temporary lake and runs
the real run loops (budgets off) with every request answered from a real payload replayed by
vcrpy (the same fixtures as the tests; matched on path, so every search gets one answer). It
counts the calls each service makes, runs again to get the cache hit rate, and converts the
calls into time at the services' rate limits and default daily budgets. Not a test: no asserts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
from pathlib import Path

import vcr

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
FIX = HERE / "fixtures"


def _cassette(path: Path) -> None:
    """One interaction per endpoint, replayed for every request to it."""
    from tests.cassettes.build_enrichment_cassettes import ok, track_body

    mb = FIX / "musicbrainz" / "mb_json_artist_search_burzum_2021.json"
    nom = FIX / "nominatim" / "php_openmapclienttest_search_hisarya_bulgaria.json"
    interactions = [
        ok("https://musicbrainz.org/ws/2/artist/?query=x", mb.read_text(encoding="utf-8")),
        ok("https://nominatim.openstreetmap.org/search?q=x", nom.read_text(encoding="utf-8")),
        ok("https://api.spotify.com/v1/tracks/x", track_body()),
    ]
    import yaml

    path.write_text(yaml.safe_dump({"interactions": interactions, "version": 1}), "utf-8")


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    os.environ.update(
        MUSIC_TRACKER_ENV="testing",
        MUSIC_TRACKER__PATHS__DATA_DIR=str(tmp / "data"),
        MUSIC_TRACKER__ENRICHMENT__ENABLED="true",
        MUSIC_TRACKER__MUSICBRAINZ__CALLS_PER_RUN="100000",
        MUSIC_TRACKER__MUSICBRAINZ__MIN_INTERVAL_SECONDS="0",
        MUSIC_TRACKER__NOMINATIM__MIN_DELAY_SECONDS="0",
        MUSIC_TRACKER__NOMINATIM__ERROR_WAIT_SECONDS="0",
        MUSIC_TRACKER__SPOTIFY_CATALOGUE__CALLS_PER_RUN="100000",
        MUSIC_TRACKER__SPOTIFY_CATALOGUE__CALLS_PER_DAY="100000",
        MUSIC_TRACKER__SPOTIFY_CATALOGUE__MIN_INTERVAL_SECONDS="0",
        MUSIC_TRACKER__SPOTIFY_CATALOGUE__FETCH_ARTISTS="false",
        MUSIC_TRACKER__SPOTIFY_CATALOGUE__FETCH_ALBUMS="false",
    )
    from pipeline.enrich import candidates, runs
    from pipeline.ingest.finding import find_export_files
    from pipeline.paths import lake
    from pipeline.runner import run_tasks
    from pipeline.settings import SpotifyCatalogueSettings, get_settings, reload_settings
    from pipeline.tasks import ImportExport, StageAllPlays

    reload_settings()
    files = find_export_files([get_settings().paths.sample_dir])
    run_tasks([ImportExport(file=str(f), account="me") for f in files])
    run_tasks([StageAllPlays()])
    the_lake = lake()
    stats = candidates.track_stats(the_lake)
    tracks = len({s.track_id for s in stats if s.track_id})
    artists = candidates.artist_candidates(stats, {})
    # Distinct albums of the sample: what album lookups would cost once track IDs give album IDs.
    import duckdb

    albums = (
        duckdb.connect()
        .execute(
            "select count(distinct (artist_name, album_name)) from read_parquet("
            f"'{the_lake.plays_dir}/date=*/*.parquet') where content_type = 'music'"
        )
        .fetchone()[0]
    )
    cassette = tmp / "replay.yaml"
    _cassette(cassette)
    replay = vcr.VCR(record_mode="none", match_on=("method", "host"))
    day = dt.date(2026, 11, 25)
    out: dict[str, object] = {"tracks": tracks, "artists": len(artists), "albums": albums}
    for attempt in ("first", "second"):
        ctx = runs.RunContext(the_lake, day, sleep=lambda s: None)
        with replay.use_cassette(str(cassette), allow_playback_repeats=True):
            # MusicBrainz first: the first-hour case, artists by name, no Spotify call needed.
            art = runs.run_artists(ctx)
            runs.finish(the_lake, day, art, [runs.MB_ARTISTS])
            cat = runs.run_catalogue(ctx, token=lambda: "t")
            runs.finish(the_lake, day, cat, [runs.ALBUMS, runs.ARTISTS, runs.TRACKS])
            geo_ = runs.run_places(ctx)
            runs.finish(the_lake, day, geo_, [runs.GEO_PLACES])
        out[attempt] = {
            r.service: {"calls": r.calls, "wanted": r.wanted, "hit_rate": round(r.hit_rate, 3)}
            for r in (cat.report, art.report, geo_.report)
        }
        day += dt.timedelta(days=1)
    first = out["first"]
    assert isinstance(first, dict)
    per_k = {s: round(1000 * v["calls"] / tracks, 1) for s, v in first.items()}
    out["calls_per_1000_tracks"] = per_k
    sp = SpotifyCatalogueSettings()  # the defaults, not this script's overrides
    # Full catalogue: one call per track, artist and album (per-item endpoints only).
    spotify_calls = tracks + len(artists) + albums
    out["full_enrichment"] = {
        "spotify_calls": spotify_calls,
        "spotify_days_at_default_budget": round(spotify_calls / sp.calls_per_day, 1),
        # MusicBrainz after Spotify IDs are known: URL lookup + artist lookup per artist.
        "musicbrainz_calls_by_name": len(artists),
        "musicbrainz_calls_by_spotify_link": 2 * len(artists),
        "musicbrainz_minutes_at_1_per_s": round(2 * len(artists) / 60, 1),
        "nominatim_minutes_at_1_per_s_upper_bound": round(len(artists) / 60, 1),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
