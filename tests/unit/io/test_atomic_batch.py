"""Files written in a batch appear whole at its commit, or not at all."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pipeline.io import atomic
from pipeline.io.atomic import TMP_MARK, AtomicBatch
from pipeline.io.procs import process_entry


def _write(batch: AtomicBatch, target: Path, text: str) -> None:
    with batch.path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


@pytest.mark.parametrize("syncfs", [True, False])
def test_files_appear_at_commit_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, syncfs: bool
) -> None:
    """Written from several threads, no target exists before the commit (readers' globs see
    nothing), each holds its bytes after it, and no temporary name is left; the same where
    the filesystem cannot be synced at once (each file is fsynced instead)."""
    if not syncfs:
        monkeypatch.setattr(atomic, "_syncfs", lambda path: False)
    batch = AtomicBatch()
    targets = [tmp_path / f"date=2026-01-{d:02d}" / "part-0.parquet" for d in range(1, 21)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda t: _write(batch, t, t.parent.name), targets))
    assert list(tmp_path.rglob("*.parquet")) == []
    batch.commit()
    assert [t.read_text(encoding="utf-8") for t in targets] == [t.parent.name for t in targets]
    assert list(tmp_path.rglob(f"*{TMP_MARK}*")) == []


def test_a_failed_write_leaves_nothing_and_the_others_commit(tmp_path: Path) -> None:
    """A write that raises removes its temporary file; the batch's other files still commit,
    and an old file under the failed name is kept as it was."""
    batch = AtomicBatch()
    kept = tmp_path / "date=2026-01-02" / "part-0.parquet"
    kept.parent.mkdir()
    kept.write_text("old", encoding="utf-8")
    _write(batch, tmp_path / "date=2026-01-01" / "part-0.parquet", "new")
    with pytest.raises(OSError), batch.path(kept) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise OSError(28, "No space left on device")
    batch.commit()
    assert (tmp_path / "date=2026-01-01" / "part-0.parquet").read_text(encoding="utf-8") == "new"
    assert kept.read_text(encoding="utf-8") == "old"
    assert list(tmp_path.rglob(f"*{TMP_MARK}*")) == []


def test_discard_removes_what_was_not_committed(tmp_path: Path) -> None:
    batch = AtomicBatch()
    _write(batch, tmp_path / "a.parquet", "a")
    batch.commit()
    _write(batch, tmp_path / "b.parquet", "b")
    batch.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.parquet"]


def test_a_killed_batch_is_reaped_at_once_and_a_live_one_is_spared(tmp_path: Path) -> None:
    """A batch's temporary files name their writer: the next staging removes those of a
    writer that is gone (a killed import) at once, not an hour later, and never those of a
    live one, however old."""
    import subprocess
    import sys
    import time

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(gone.stdout)
    # A killed writer not yet reaped (a zombie: the import's child, a moment after its parent
    # died with it) has ended too.
    zombie = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    zombie.kill()
    deadline = time.monotonic() + 10
    while _state(zombie.pid) != "Z" and time.monotonic() < deadline:
        time.sleep(0.02)
    killed = atomic.temp_name(tmp_path / "date=2026-01-01" / "part-0.parquet", dead_pid)
    unreaped = atomic.temp_name(tmp_path / "date=2026-01-04" / "part-0.parquet", zombie.pid)
    live = atomic.temp_name(tmp_path / "date=2026-01-02" / "part-0.parquet")
    batch = AtomicBatch()
    for path in (killed, unreaped, live):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("half", encoding="utf-8")
    with batch.path(tmp_path / "date=2026-01-03" / "part-0.parquet") as tmp:
        tmp.write_text("whole", encoding="utf-8")  # written, not yet committed: ours, alive
    try:
        assert atomic.clean_temp_files(tmp_path, older_than_s=3600) == 2
    finally:
        zombie.wait()
    assert not killed.exists() and not unreaped.exists()
    assert live.exists() and tmp.exists()


def _state(pid: int) -> str:
    """The process's state letter (Z: a zombie); empty once it is gone."""
    entry = process_entry(pid)
    return entry.state if entry is not None else ""


def test_a_killed_single_file_write_is_reaped_at_once(tmp_path: Path) -> None:
    """One file written with ``atomic_path`` by a process killed before its rename (a cycle's
    poll, a marker) leaves a temp file the next staging removes at once, like a batch's."""
    import subprocess
    import sys

    target = tmp_path / "date=2026-01-01" / "part-0.parquet"
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys\n"
            "from pipeline.io.atomic import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n"
            "    tmp.write_text('half')\n"
            "    os.kill(os.getpid(), 9)\n",
            str(target),
        ],
        check=False,
    )
    assert killed.returncode == -9
    left = list(target.parent.iterdir())
    assert len(left) == 1 and atomic.TMP_MARK in left[0].name and not target.exists()
    assert atomic.clean_temp_files(tmp_path, older_than_s=3600) == 1
    assert list(target.parent.iterdir()) == []


def test_a_killed_raw_copy_is_removed_by_the_next_copy(tmp_path: Path) -> None:
    """An import killed while copying an export into raw/ leaves a half copy (hundreds of MB
    for a big export); the next copy into that folder removes it, and keeps the new one."""
    import subprocess
    import sys

    from pipeline.io.keep import keep_by_content

    folder = tmp_path / "raw" / "exports"
    source = tmp_path / "Streaming_History_Audio_2024.json"
    source.write_bytes(b"[]" + b" " * (3 << 20))
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys, pathlib, hashlib\n"
            "from pipeline.io import keep\n"
            "class Dying:\n"
            "    def update(self, chunk): os.kill(os.getpid(), 9)\n"
            "keep.hashlib.sha256 = Dying\n"
            "keep.keep_by_content(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]),"
            " lambda sha: pathlib.Path(sys.argv[2]) / sha, 0o600)\n",
            str(source),
            str(folder),
        ],
        check=False,
    )
    assert killed.returncode == -9
    assert [p.name for p in folder.iterdir() if TMP_MARK in p.name]  # the half copy

    sha, copy = keep_by_content(source, folder, lambda sha: folder / sha / source.name, 0o600)
    assert copy.read_bytes() == source.read_bytes()
    assert [p for p in folder.rglob("*") if TMP_MARK in p.name] == []
