"""One scheduling pass walks each tree once; running tasks always sees the files as they are."""

from __future__ import annotations

from pathlib import Path

import luigi
import pytest

from pipeline.io import markers
from pipeline.io.markers import fingerprint
from pipeline.io.pass_cache import memo, scheduling_pass
from pipeline.runner import run_luigi


def _write(path: Path, data: bytes = b"x") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_memo_answers_once_inside_a_pass_and_afresh_outside() -> None:
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    with scheduling_pass():
        assert memo("k", compute) == 1
        assert memo("k", compute) == 1
        with scheduling_pass():  # nested: the outer pass's answers
            assert memo("k", compute) == 1
    assert memo("k", compute) == 2
    assert memo("k", compute) == 3


def test_fingerprint_outside_a_pass_sees_a_new_file(tmp_path: Path) -> None:
    _write(tmp_path / "date=2026-01-01" / "a.parquet")
    before = fingerprint(tmp_path)
    with scheduling_pass():
        assert fingerprint(tmp_path) == before
        _write(tmp_path / "date=2026-01-02" / "b.parquet")
        assert fingerprint(tmp_path) == before  # one pass, one answer
    after = fingerprint(tmp_path)
    assert set(after) == {"date=2026-01-01", "date=2026-01-02"}


def test_fingerprint_matches_a_plain_walk(tmp_path: Path) -> None:
    """The same keys and values as os.walk would give (fingerprints stored by older builds)."""
    import hashlib
    import os

    _write(tmp_path / "plays" / "v1" / "date=2026-01-01" / "a.parquet")
    _write(tmp_path / "plays" / "v1" / "date=2026-01-01" / "a.parquet.tmp-1", b"partial")
    _write(tmp_path / "dbt_runs" / "date=2026-01-01" / "x.parquet")
    _write(tmp_path / "reference" / "listeners.parquet", b"yy")
    _write(tmp_path / "reference" / "notes.json")
    expected: dict[str, list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(tmp_path):
        rel = os.path.relpath(dirpath, tmp_path)
        if rel != "." and rel.split(os.sep)[0] == "dbt_runs":
            dirnames[:] = []
            continue
        key = next((p for p in rel.split(os.sep) if p.startswith("date=")), "")
        for name in filenames:
            if name.endswith(".parquet"):
                st = os.stat(os.path.join(dirpath, name))
                expected.setdefault(key, []).append(f"{rel}/{name}:{st.st_size}:{st.st_mtime_ns}")
    want = {
        k: hashlib.sha256("\n".join(sorted(v)).encode()).hexdigest()[:16]
        for k, v in sorted(expected.items())
    }
    assert fingerprint(tmp_path, exclude=("dbt_runs",)) == want


class _Source(luigi.ExternalTask):
    root: str = luigi.Parameter()  # type: ignore[assignment]

    def complete(self) -> bool:
        return bool(fingerprint(Path(self.root)))


class _Writer(luigi.Task):
    root: str = luigi.Parameter()  # type: ignore[assignment]

    def complete(self) -> bool:
        return "date=2026-01-02" in fingerprint(Path(self.root))

    def run(self) -> None:
        _write(Path(self.root) / "date=2026-01-02" / "b.parquet")


class _Reader(luigi.Task):
    root: str = luigi.Parameter()  # type: ignore[assignment]
    done: list[str] = []

    def requires(self) -> list[luigi.Task]:
        return [_Writer(root=self.root), _Source(root=self.root)]

    def complete(self) -> bool:
        return bool(self.done)

    def run(self) -> None:
        self.done.append(self.root)


def test_a_scheduling_pass_walks_each_tree_once_and_running_sees_new_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three complete() checks of one tree cost one walk; the writer's file is then seen by
    Luigi's re-check of the reader's dependencies (each a fresh pass), so the reader runs."""
    from pipeline.io import pass_cache

    _write(tmp_path / "date=2026-01-01" / "a.parquet")
    walks: list[bool] = []  # per walk: inside a scheduling pass?
    asked: list[bool] = []  # per fingerprint() call: inside a pass?
    real_walk, real_fingerprint = markers._walk, markers.fingerprint

    def counting_walk(root: Path, exclude: tuple[str, ...]) -> dict[str, str]:
        walks.append(pass_cache._answers is not None)
        return real_walk(root, exclude)

    def counting_fingerprint(root: Path, exclude: tuple[str, ...] = ()) -> dict[str, str]:
        asked.append(pass_cache._answers is not None)
        return real_fingerprint(root, exclude)

    monkeypatch.setattr(markers, "_walk", counting_walk)
    monkeypatch.setitem(globals(), "fingerprint", counting_fingerprint)
    outcome = run_luigi([_Reader(root=str(tmp_path))])
    assert outcome.code == 0
    assert _Reader.done == [str(tmp_path)]  # the reader saw the writer's file and ran
    assert asked.count(True) >= 2  # the writer's and the source's checks while scheduling
    # scheduling cost one walk; the re-check of each of the reader's two dependencies, once
    # the writer had run, walked afresh (a pass of its own each)
    assert walks == [True, True, True]


def test_an_indexed_tree_answers_for_its_folders_with_one_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Staging's fingerprints of imports/, plays/ and the build's of the whole tree (minus its
    own outputs) come from one listing, and equal separate walks."""
    for rel in (
        "imports/v1/u1.parquet",
        "plays/v1/date=2026-01-01/part-0.parquet",
        "plays/v1/date=2026-01-02/part-0.parquet",
        "dbt_runs/date=2026-01-01/x.parquet",
        "lookups/t/v1/date=2026-01-01/part-0.parquet",
    ):
        _write(tmp_path / rel)
    asks = [
        (tmp_path / "imports" / "v1", ()),
        (tmp_path / "plays" / "v1", ()),
        (tmp_path / "nothing", ()),
        (tmp_path, ("dbt_runs",)),
        (tmp_path, ()),
    ]
    separate = [fingerprint(root, exclude) for root, exclude in asks]
    walks: list[Path] = []
    real = markers._walk
    monkeypatch.setattr(markers, "_walk", lambda root, ex: walks.append(root) or real(root, ex))
    with scheduling_pass():
        markers.index(tmp_path)
        shared = [fingerprint(root, exclude) for root, exclude in asks]
    assert shared == separate
    assert set(separate[1]) == {"date=2026-01-01", "date=2026-01-02"}
    assert separate[3] != separate[4]  # dbt_runs/ left out of one
    assert walks == [tmp_path]


class _Twice(luigi.ExternalTask):
    """A dependency whose check reads the same tree twice (as DbtBuild's: the staging checks,
    then the build's fingerprint of the whole staged tree)."""

    root: str = luigi.Parameter()  # type: ignore[assignment]

    def complete(self) -> bool:
        markers.index(Path(self.root))
        first = fingerprint(Path(self.root) / "date=2026-01-01")
        return bool(first) and bool(fingerprint(Path(self.root)))


class _AfterTwice(luigi.Task):
    root: str = luigi.Parameter()  # type: ignore[assignment]
    done: list[str] = []

    def requires(self) -> _Twice:
        return _Twice(root=self.root)

    def complete(self) -> bool:
        return self.root in self.done

    def run(self) -> None:
        self.done.append(self.root)


def test_the_recheck_of_a_dependency_walks_its_tree_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Luigi checks a task's dependencies again just before running it: one dependency's check
    is one pass, so reading a tree and a folder of it costs one walk (it cost one per read)."""
    _write(tmp_path / "date=2026-01-01" / "a.parquet")
    walks: list[Path] = []
    real = markers._walk
    monkeypatch.setattr(markers, "_walk", lambda root, ex: walks.append(root) or real(root, ex))
    outcome = run_luigi([_AfterTwice(root=str(tmp_path))])
    assert outcome.code == 0 and _AfterTwice.done == [str(tmp_path)]
    assert walks == [tmp_path, tmp_path]  # scheduling, then the re-check: one walk each
