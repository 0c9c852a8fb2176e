"""Lookup state: asked once until stale, failures back off across runs, pauses persist."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipeline.enrich.state import FAILED, FOUND, NOT_FOUND, LookupState, Policy

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
POLICY = Policy(
    refresh_found=dt.timedelta(days=180),
    refresh_not_found=dt.timedelta(days=30),
    retry_base=dt.timedelta(hours=1),
    retry_max=dt.timedelta(days=7),
)


def test_answers_are_due_again_only_after_their_refresh_age(tmp_path: Path) -> None:
    """found waits 180 days, not_found 30 days; unknown keys are due, once each."""
    state = LookupState(tmp_path / "s.sqlite", POLICY)
    state.record("artist", "a", FOUND, NOW)
    state.record("artist", "b", NOT_FOUND, NOW)
    assert state.due("artist", ["a", "b", "c", "c"], NOW + dt.timedelta(days=31)) == ["b", "c"]
    assert state.due("artist", ["a"], NOW + dt.timedelta(days=181)) == ["a"]


def test_failures_back_off_and_survive_a_restart(tmp_path: Path) -> None:
    """1 h, then 2 h after the second failure; committed state is there for the next run."""
    path = tmp_path / "s.sqlite"
    state = LookupState(path, POLICY)
    state.record("place", "p", FAILED, NOW)
    state.record("place", "p", FAILED, NOW)
    state.pause_until(NOW + dt.timedelta(hours=13), "429")
    state.close(commit=True)
    again = LookupState(path, POLICY)
    assert not again.is_due("place", "p", NOW + dt.timedelta(minutes=119))
    assert again.is_due("place", "p", NOW + dt.timedelta(minutes=121))
    assert again.resume_at() == NOW + dt.timedelta(hours=13)


def test_uncommitted_run_leaves_no_trace(tmp_path: Path) -> None:
    """A run that crashes before its partition lands does not mark anything as known."""
    path = tmp_path / "s.sqlite"
    state = LookupState(path, POLICY)
    state.record("artist", "a", FOUND, NOW)
    state.close(commit=False)
    assert LookupState(path, POLICY).is_due("artist", "a", NOW)


def test_due_agrees_with_is_due_key_by_key(tmp_path: Path) -> None:
    """Each key's answer is ``is_due``'s, in the given order without repeats, whatever its
    status, and another entity's row of the same key does not count."""
    from pipeline.enrich.state import PARTIAL

    state = LookupState(tmp_path / "s.sqlite", POLICY)
    state.record("artist", "a", FOUND, NOW)
    state.record("artist", "b", NOT_FOUND, NOW)
    state.record("artist", "c", FAILED, NOW)
    state.record("artist", "d", PARTIAL, NOW)
    state.record("track", "e", FOUND, NOW)  # another entity's answer for the same key
    keys = ["e", "d", "a", "c", "b", "a", "e"]
    for later in (dt.timedelta(0), dt.timedelta(hours=2), dt.timedelta(days=31)):
        when = NOW + later
        one_by_one = [k for k in dict.fromkeys(keys) if state.is_due("artist", k, when)]
        assert state.due("artist", keys, when) == one_by_one
    assert state.due("artist", keys, NOW) == ["e", "d"]
    assert state.due("track", ["e"], NOW) == []
