"""The closing summary of a build: the same numbers from its cache until a publish changes them."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import summary


def _publish(lake_dir: Path, generation: int, plays: list[tuple[str, int]]) -> None:
    """A published generation with fct_plays and dim_artist, as pipeline.reporting lays it out."""
    root = lake_dir / "reporting" / "marts" / f"generation={generation}"
    (root / "fct_plays").mkdir(parents=True)
    (root / "dim_artist").mkdir(parents=True)
    pq.write_table(
        pa.table(
            {
                "artist_sk": [sk for sk, _ in plays],
                "ms_played": [ms for _, ms in plays],
                "content_type": ["music"] * len(plays),
            }
        ),
        root / "fct_plays" / "part-0.parquet",
    )
    pq.write_table(
        pa.table(
            {"artist_sk": ["a", "b"], "artist_name": ["Air", "Björk"], "artist_key": ["1", "2"]}
        ),
        root / "dim_artist" / "part-0.parquet",
    )
    (root / "published.json").write_text("{}", encoding="utf-8")


def test_the_summary_is_reused_until_a_new_generation_is_published(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _publish(data_dir, 1, [("a", 3_600_000), ("a", 3_600_000), ("b", 3_600_000)])
    first = summary.summary()
    assert (first["plays"], first["hours"]) == (3, 3.0)
    assert first["top_artists"] == [["Air", 2.0], ["Björk", 1.0]]

    def no_scan(*_: object) -> dict:
        raise AssertionError("the published marts were scanned again")

    with monkeypatch.context() as patch:
        patch.setattr(summary, "_headline_numbers", no_scan)
        assert summary.summary() == first  # nothing new published: the kept numbers

    import shutil

    shutil.rmtree(data_dir / "reporting" / "marts" / "generation=1")
    _publish(data_dir, 2, [("b", 7_200_000)])
    again = summary.summary()
    assert (again["plays"], again["top_artists"]) == (1, [["Björk", 2.0]])


def test_a_damaged_cache_is_computed_again(data_dir: Path) -> None:
    _publish(data_dir, 1, [("a", 60_000)])
    (data_dir / "state").mkdir(exist_ok=True)
    (data_dir / "state" / "summary.json").write_text("{not json", encoding="utf-8")
    assert summary.summary()["plays"] == 1
