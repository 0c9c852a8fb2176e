"""Processes as Linux's ``/proc`` shows them: state, parent and group of one or of all.

For zombie and group checks (``warehouse.dbt_process``: is dbt's group still running) and for
temp files named by their writer (``io.atomic``: has the writer ended). Elsewhere than Linux
nothing is found.
"""

from __future__ import annotations

import os
from typing import NamedTuple


class ProcessEntry(NamedTuple):
    """One process as ``/proc/<pid>/stat`` shows it."""

    pid: int
    state: str  # "R", "S", ... "Z" for a zombie
    ppid: int
    pgrp: int


def process_entry(pid: int) -> ProcessEntry | None:
    """The process ``pid`` now; None when it is gone (or there is no ``/proc``)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # The fields after the command name (which may hold spaces) start after the last ')'.
    fields = stat[stat.rfind(b")") + 2 :].split()
    return ProcessEntry(pid, fields[0].decode(), int(fields[1]), int(fields[2]))


def process_table() -> list[ProcessEntry]:
    """Every process now (empty without ``/proc``)."""
    try:
        listing = list(os.scandir("/proc"))
    except OSError:
        return []
    found = (process_entry(int(entry.name)) for entry in listing if entry.name.isdigit())
    return [entry for entry in found if entry is not None]  # None: gone meanwhile
