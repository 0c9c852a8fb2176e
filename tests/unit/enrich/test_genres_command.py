"""`music-tracker enrich refresh-genres` writes the dbt seed from the service's text list."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.commands import enrichment


def test_genre_text_becomes_a_sorted_one_column_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blank lines and repeats are dropped; the CSV has the single column `genre`."""
    from pipeline import settings

    monkeypatch.setenv("MUSIC_TRACKER__PATHS__DBT_PROJECT_DIR", str(tmp_path))
    settings.reload_settings()
    try:
        genres = enrichment.genres_from_txt("rock\n\nacid house\nrock\nhip hop\n")
        path = Path(enrichment.write_genre_seed(genres))
    finally:
        monkeypatch.undo()
        settings.reload_settings()
    assert path.read_text(encoding="utf-8") == "genre\nacid house\nhip hop\nrock\n"


def test_bundled_seed_is_a_real_genre_list() -> None:
    """The committed seed holds MusicBrainz's genres (hundreds, unique, lower case)."""
    seed = Path(__file__).parents[3] / "dbt_project" / "seeds" / "musicbrainz_genres.csv"
    rows = seed.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "genre" and len(rows) > 800
    assert len(set(rows)) == len(rows) and {"black metal", "dance-pop", "k-pop"} <= set(rows)
