"""Podcast shows kept per staged input: a check reads only new or rewritten files, and the set
always equals a scan of every input."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest

from pipeline import schemas
from pipeline.io.kept import forget
from pipeline.io.parquet import write_parquet_atomic
from pipeline.paths import lake
from pipeline.staging import inputs
from pipeline.transform.dedupe import show_key

DAY = dt.date(2026, 3, 1)
#: The scan itself, unwrapped: ``_scan`` reads every input with it, uncounted.
READ_ALL = inputs._shows_by_file


def _play(n: int, kind: str, show: str | None) -> dict:
    return {
        "play_id": f"p{n}",
        "account": "me",
        "content_type": kind,
        "show_name": show,
        "episode_name": "an episode" if show else None,
        "track_name": None if show else f"song {n}",
        "artist_name": None if show else "Band",
        "source": "api",
        "source_file": "poll",
        "ts_precision": "ms",
        "ms_played": 1000,
        "source_row": n,
        "is_local": False,
        "played_at": dt.datetime.combine(DAY, dt.time(12, n % 60), tzinfo=dt.UTC),
    }


def _poll(name: str, plays: list[dict]) -> Path:
    """A poll file of ``DAY`` as ingestion writes it."""
    path = lake().polls_dir / "account=me" / f"date={DAY}" / f"{name}.parquet"
    write_parquet_atomic(path, pa.Table.from_pylist(plays, schema=schemas.PLAYS))
    return path


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The files each call reads (the names of the paths handed to the scan)."""
    calls: list[list[str]] = []
    real = inputs._shows_by_file

    def counting(paths: list[Path]) -> dict[str, set[tuple[str, str]]]:
        calls.append(sorted(p.name for p in paths))
        return real(paths)

    monkeypatch.setattr(inputs, "_shows_by_file", counting)
    return calls


def _shows() -> set[tuple[str, str]]:
    """The shows as a new command finds them (nothing kept in memory from an earlier one)."""
    forget(inputs.KEPT_GROUP)  # what a new process starts with
    return inputs.podcast_shows(lake(), inputs.inputs_by_date(lake()))


def _scan() -> set[tuple[str, str]]:
    """Every input scanned, as the shows were found before they were kept."""
    paths = sorted({p for found in inputs.inputs_by_date(lake()).values() for p in found})
    return {pair for pairs in READ_ALL(paths).values() for pair in pairs}


def test_only_new_or_rewritten_inputs_are_read_and_the_shows_match_a_scan(
    data_dir: Path, reads: list[list[str]]
) -> None:
    first = _poll("a", [_play(0, "podcast", "A Show"), _play(1, "music", None)])
    _poll("b", [_play(2, "music", None)])
    assert _shows() == {("me", show_key("A Show"))} == _scan()
    assert reads == [["a.parquet", "b.parquet"]]

    assert _shows() == {("me", show_key("A Show"))}  # nothing new: nothing read
    assert reads[1:] == []

    _poll("c", [_play(3, "podcast", "Other Show")])
    assert _shows() == {("me", show_key("A Show")), ("me", show_key("Other Show"))} == _scan()
    assert reads[1:] == [["c.parquet"]]

    write_parquet_atomic(
        first, pa.Table.from_pylist([_play(0, "music", None)], schema=schemas.PLAYS)
    )
    assert _shows() == {("me", show_key("Other Show"))} == _scan()  # a rewrite is read again
    assert reads[2:] == [["a.parquet"]]

    first.unlink()
    assert _shows() == {("me", show_key("Other Show"))} == _scan()
    assert reads[3:] == []


def test_an_unreadable_or_damaged_cache_means_reading_again(
    data_dir: Path, reads: list[list[str]]
) -> None:
    """Not JSON, or entries of another shape (an edited file): read again, never a crash."""
    path = _poll("a", [_play(0, "podcast", "A Show")])
    assert _shows() == {("me", show_key("A Show"))}
    cache = inputs.shows_cache_file(lake())
    cache.write_text("{not json", encoding="utf-8")
    assert _shows() == {("me", show_key("A Show"))}
    stat = path.stat()
    name = path.relative_to(lake().staged).as_posix()
    for damaged in (
        "not a list",
        [stat.st_size, stat.st_mtime_ns],
        [stat.st_size, stat.st_mtime_ns, "x"],
    ):
        cache.write_text(
            json.dumps({"version": inputs.SHOWS_CACHE_VERSION, "files": {name: damaged}}),
            encoding="utf-8",
        )
        assert _shows() == {("me", show_key("A Show"))}
    assert reads == [["a.parquet"]] * 5


def test_one_command_finds_the_inputs_once_while_they_are_unchanged(
    data_dir: Path, reads: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within one process the index and the shows are made once per state of the inputs: the
    checks of a cycle ask many times, and each asking stat-ed every input (a year of polls is
    thousands of files). A new poll file, or one rewritten, is seen at the next asking."""
    stats: list[str] = []
    real_stat = Path.stat

    def counting_stat(self: Path, *args: object, **kwargs: object) -> object:
        if self.suffix == ".parquet":
            stats.append(self.name)
        return real_stat(self, *args, **kwargs)  # type: ignore[arg-type]

    first = _poll("a", [_play(0, "podcast", "A Show")])
    forget(inputs.KEPT_GROUP)  # what a new process starts with
    index = inputs.inputs_by_date(lake())
    assert inputs.podcast_shows(lake(), index) == {("me", show_key("A Show"))}
    monkeypatch.setattr(Path, "stat", counting_stat)
    for _ in range(3):
        again = inputs.inputs_by_date(lake())
        assert again is index
        assert inputs.podcast_shows(lake(), again) == {("me", show_key("A Show"))}
    assert reads == [["a.parquet"]] and stats == []

    _poll("b", [_play(1, "podcast", "Other Show")])
    index = inputs.inputs_by_date(lake())
    assert index[DAY] == [first, first.with_name("b.parquet")]
    assert inputs.podcast_shows(lake(), index) == {
        ("me", show_key("A Show")),
        ("me", show_key("Other Show")),
    }
    assert reads[1:] == [["b.parquet"]]

    write_parquet_atomic(
        first, pa.Table.from_pylist([_play(0, "music", None)], schema=schemas.PLAYS)
    )
    assert inputs.podcast_shows(lake(), inputs.inputs_by_date(lake())) == {
        ("me", show_key("Other Show"))
    }
    assert reads[2:] == [["a.parquet"]]
