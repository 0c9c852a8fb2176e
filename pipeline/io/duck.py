"""DuckDB connections capped by the configured memory limit and threads; memory handed back.

A bare ``duckdb.connect()`` may use 80% of the machine's RAM: on a 2 GB NAS running Metabase
beside the pipeline that is an out-of-memory kill waiting to happen, so every connection the
pipeline opens for real work comes from here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.io.keep import set_aside
from pipeline.io.pass_cache import memo
from pipeline.settings import get_settings

if TYPE_CHECKING:
    import duckdb

# ``duckdb`` itself is imported where a connection is made: a scheduling pass that finds
# everything complete opens no DuckDB file (``file_stamp``), and the import is ~10% of it.


def connect(path: Path | str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with ``duckdb.task_memory_limit`` and ``duckdb.threads`` applied.

    It spills into the lake's ``state/duckdb_spill/``, not DuckDB's default ``.tmp`` in the
    working directory (read-only in the image).
    """
    import duckdb

    from pipeline.paths import lake

    settings = get_settings()
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute(f"set memory_limit = {sql_string(settings.duckdb.task_memory_limit)}")
    con.execute(f"set threads = {int(settings.duckdb.threads)}")
    con.execute(f"set temp_directory = {sql_string(lake().spill_dir)}")
    return con


#: Whether ``release_memory`` freezes what survives its collection (``freeze_survivors``).
_freeze = False


def freeze_survivors() -> None:
    """Make every later ``release_memory`` freeze what survives its collection (``gc.freeze``).

    A full collection walks every object alive: ~60,000-100,000 in a build (Luigi, the task
    modules, Arrow), 20-45 ms each time, after each of a cycle's ~7 tasks. Frozen, they are
    skipped by every later collection, automatic ones included. Only for a process that ends
    with its command (the command line): a frozen object that later becomes cyclic garbage is
    never collected, which a long-lived process (the test suite's workers) would accumulate.
    """
    global _freeze
    _freeze = True


def release_memory() -> None:
    """Hand memory this process no longer uses back to the OS.

    The pipeline runs its tasks one after another in one process, and dbt beside it: Arrow's
    pool and glibc's heap keep freed pages (a staged month of plays, a parsed export file)
    unless asked, so every task's peak would stack on the last one's. Called after each task.
    """
    import ctypes
    import gc
    import sys

    gc.collect()
    if _freeze:
        gc.freeze()  # what survived a full collection lives on: later ones skip it
    arrow = sys.modules.get("pyarrow")  # not loaded (a slim process): no pool to release
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        pass


def sql_string(text: str | Path) -> str:
    """``text`` as a SQL string literal, quotes doubled: the one way a path goes into SQL.

    DuckDB cannot bind parameters everywhere a path goes (``ATTACH``, ``COPY ... TO``, a view's
    ``read_parquet``), and a data folder may be called ``Zoë's music``: pasting it between
    quotes would end the literal early.
    """
    return "'" + str(text).replace("'", "''") + "'"


#: Words of DuckDB's errors that mean "someone else holds the file", not "the file is bad".
_BUSY = ("lock", "conflicting", "same database file")


def file_stamp(path: Path | str) -> str | None:
    """What a writer records of a file it has just closed: size, mtime, ctime and inode.

    Equal later means nobody wrote, truncated, replaced or restored the file since: ctime
    moves with every write and cannot be set back (``touch`` sets mtime only). None when the
    file is absent.
    """
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}:{stat.st_ino}"


def unreadable_reason(path: Path | str, written: str | None = None) -> str | None:
    """Why the DuckDB file at ``path`` cannot be opened, or None when it opens (or is absent).

    Opens it read-only and lists its catalog: a file whose header or catalog is damaged (its
    first 8 KB overwritten, a truncated copy) fails here. A file another process holds
    read-write (dbt building) is busy, not broken: None. A missing file is not corruption
    either (nothing built yet), so callers check ``exists()`` for that themselves. Inside a
    scheduling pass a file is opened once (``pass_cache``).

    ``written``: the file's ``file_stamp`` as its writer recorded it after a successful write
    (a build or publish marker). A file still exactly so is not opened again: a no-op pass
    then opens no DuckDB file at all, while any later write, truncation or copy is checked.
    """
    path = Path(path)
    if not path.exists():
        return None
    if written is not None and file_stamp(path) == written:
        return None
    return memo(("unreadable_reason", str(path.resolve())), lambda: _unreadable_reason(path))


def _unreadable_reason(path: Path) -> str | None:
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if any(word in message.lower() for word in _BUSY):
            return None
        return message
    try:
        con.execute("select count(*) from duckdb_tables()").fetchall()
        con.execute("select count(*) from duckdb_views()").fetchall()
    except duckdb.Error as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    finally:
        con.close()
    return None


def set_aside_if_unreadable(path: Path | str, written: str | None = None) -> str | None:
    """Move an unreadable DuckDB file (and its WAL) out of the way; return why, else None.

    What is built from ``raw/`` (the warehouse, the reporting file) is then rebuilt from
    scratch by the next run instead of failing on the damaged file forever; the damaged copy is
    kept beside it (``<name>.unreadable``) for a look, replacing any older one. ``written``:
    the file's stamp as its writer left it (``unreadable_reason``): a file still so is not
    opened.
    """
    import logging

    path = Path(path)
    reason = unreadable_reason(path, written)
    if reason is None:
        return None
    aside = set_aside(path, (".wal",))
    logging.getLogger(__name__).warning(
        "%s could not be opened (%s): moved to %s, it is rebuilt from raw/", path, reason, aside
    )
    return reason
