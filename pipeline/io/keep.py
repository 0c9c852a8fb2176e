"""Keep a copy of a file under a name taken from its content, streamed and written atomically;
and keep a damaged file aside.

How raw/ keeps an imported export file: the bytes are hashed while copied, so a 1 GB file is
never held in memory, and the copy appears under its final name only once complete.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from pipeline.io.atomic import clean_temp_files, temp_name


def keep_by_content(
    src: Path, folder: Path, target_of: Callable[[str], Path], mode: int
) -> tuple[str, Path]:
    """Copy ``src`` to ``target_of(sha)`` (``sha``: 16 hex digits of its SHA-256) with ``mode``.

    The copy is streamed into a temporary file in ``folder`` (same filesystem as the target),
    then renamed into place; a target that exists already is kept (same name, same bytes). A
    target with a wider mode than ``mode`` is narrowed. Returns (sha, target).
    """
    folder.mkdir(parents=True, exist_ok=True)
    # What a killed copy left (a half-copied export can be hundreds of MB) goes first: its
    # name says its writer, so it is removed once that process is gone (``temp_name``).
    clean_temp_files(folder)
    digest = hashlib.sha256()
    tmp_name = temp_name(folder / "incoming").name
    with tempfile.NamedTemporaryFile(dir=folder, prefix=tmp_name, delete=False) as tmp:
        try:
            with open(src, "rb") as source:
                for chunk in iter(lambda: source.read(1 << 20), b""):
                    digest.update(chunk)
                    tmp.write(chunk)
            tmp.flush()
            os.fsync(tmp.fileno())
        except BaseException:
            Path(tmp.name).unlink(missing_ok=True)
            raise
    sha = digest.hexdigest()[:16]
    target = target_of(sha)
    try:
        if target.exists():
            Path(tmp.name).unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp.name, mode)
            os.replace(tmp.name, target)
    finally:
        Path(tmp.name).unlink(missing_ok=True)
    if target.stat().st_mode & 0o777 != mode:
        os.chmod(target, mode)
    return sha, target


def set_aside(path: Path, companions: tuple[str, ...] = ()) -> Path:
    """Move a damaged ``path`` to ``<name>.unreadable`` beside it (replacing an older one), with
    the files its engine keeps next to it (``companions``: name suffixes, e.g. DuckDB's
    ``.wal``, SQLite's ``-journal``); return where it went.

    What replaces it is rebuilt by the caller; the damaged bytes stay for a look.
    """
    aside = path.with_name(path.name + ".unreadable")
    os.replace(path, aside)
    for suffix in companions:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            os.replace(companion, aside.with_name(aside.name + suffix))
    return aside
