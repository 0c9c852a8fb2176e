"""Markers are ordered by the sequence number written inside them, not by their mtime."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from pipeline.io.atomic import write_json_atomic
from pipeline.io.markers import SEQUENCE, latest_marker, marker_sequence, write_marker

NAME = "run_results.json"


def _marker(root: Path, day: str) -> Path:
    return root / f"date={day}" / NAME


def _set_mtime(path: Path, seconds: float) -> None:
    os.utime(path, ns=(int(seconds * 1e9), int(seconds * 1e9)))


def test_markers_number_themselves_one_after_another(tmp_path: Path) -> None:
    """Each marker is numbered one past the highest of its directory, its payload kept whole."""
    assert write_marker(_marker(tmp_path, "2026-01-02"), {"build_id": "a", "n": {"b": 1}}) == 1
    assert write_marker(_marker(tmp_path, "2026-01-01"), {"build_id": "b"}) == 2
    assert write_marker(_marker(tmp_path, "2026-01-02"), {"build_id": "c", SEQUENCE: 99}) == 3
    body = json.loads(_marker(tmp_path, "2026-01-02").read_text(encoding="utf-8"))
    assert body == {SEQUENCE: 3, "build_id": "c"}
    assert marker_sequence(_marker(tmp_path, "2026-01-01")) == 2


def test_two_markers_in_the_same_mtime_second_are_ordered_by_sequence(tmp_path: Path) -> None:
    """A build for an older day written last is the latest, though both files share one mtime."""
    newer_day, older_day = _marker(tmp_path, "2026-03-02"), _marker(tmp_path, "2026-03-01")
    write_marker(newer_day, {"build_id": "first"})
    write_marker(older_day, {"build_id": "second"})
    for path in (newer_day, older_day):
        _set_mtime(path, 1_767_225_600)  # the same whole second, as a coarse filesystem gives
    found = latest_marker(tmp_path, NAME)
    assert found is not None
    assert found[0] == dt.date(2026, 3, 1) and found[1]["build_id"] == "second"


def test_mtimes_touched_backwards_do_not_reorder_markers(tmp_path: Path) -> None:
    """A restore or a copy moves mtimes: the last written marker is still the latest."""
    paths = [_marker(tmp_path, f"2026-04-0{i}") for i in (1, 2, 3)]
    for index, path in enumerate(paths):
        write_marker(path, {"build_id": str(index)})
    for index, path in enumerate(paths):
        _set_mtime(path, 2_000_000_000 - index * 3600)  # the last written is the oldest now
    found = latest_marker(tmp_path, NAME)
    assert found is not None and found[1]["build_id"] == "2"


def test_markers_from_before_sequences_come_first_by_mtime(tmp_path: Path) -> None:
    """An existing lake's unnumbered markers still order among themselves by mtime, and any
    numbered marker comes after them, whatever the mtimes."""
    old_a, old_b = _marker(tmp_path, "2025-01-01"), _marker(tmp_path, "2025-01-02")
    write_json_atomic(old_a, {"build_id": "old-a"})
    write_json_atomic(old_b, {"build_id": "old-b"})
    _set_mtime(old_a, 1_800_000_000)
    _set_mtime(old_b, 1_700_000_000)
    assert marker_sequence(old_a) is None
    found = latest_marker(tmp_path, NAME)
    assert found is not None and found[1]["build_id"] == "old-a"  # newest mtime of the old ones

    new = _marker(tmp_path, "2024-12-31")
    assert write_marker(new, {"build_id": "new"}) == 1
    _set_mtime(new, 1_600_000_000)  # older than both unnumbered markers
    found = latest_marker(tmp_path, NAME)
    assert found is not None and found[1]["build_id"] == "new"


def test_an_unreadable_latest_marker_falls_back_to_the_one_before(tmp_path: Path) -> None:
    """A marker whose body does not parse is skipped, as before sequences."""
    write_marker(_marker(tmp_path, "2026-05-01"), {"build_id": "good"})
    bad = _marker(tmp_path, "2026-05-02")
    write_marker(bad, {"build_id": "bad"})
    bad.write_text(bad.read_text(encoding="utf-8")[:-5], encoding="utf-8")  # truncated
    found = latest_marker(tmp_path, NAME)
    assert found is not None and found[1]["build_id"] == "good"
    assert latest_marker(tmp_path / "missing", NAME) is None
