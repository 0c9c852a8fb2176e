"""Which poll slot a time falls in, and whether an account's state has handled a slot.

The configured side of ``transform.slots`` (the poll interval comes from the settings, the
clock from the caller), apart from the poll's landing machinery (``ingest.polls``, with Arrow's
compute kernels behind it): ``IngestRecentlyPlayed.complete()`` asks these on every
scheduling pass, and a pass with nothing to poll loads only this.
"""

from __future__ import annotations

import datetime as dt
import logging

from pipeline.settings import spotify_settings
from pipeline.transform.slots import round_to_slot, slot_key

logger = logging.getLogger(__name__)


def slot_of(when: dt.datetime) -> dt.datetime:
    """``when`` (UTC) rounded down to ``spotify.poll_interval_minutes``, naive as Luigi's are."""
    return round_to_slot(when, spotify_settings().poll_interval_minutes)


def slot_handled(last_slot: str | None, slot: dt.datetime, now: dt.datetime) -> bool:
    """Whether a state whose ``last_slot`` is ``last_slot`` has handled ``slot`` at ``now``.

    A ``last_slot`` later than the clock's own slot (the clock was stepped back, or a task was
    run by hand for a future slot) would make every poll before that time a silent no-op; it is
    logged and ignored instead, so the poll runs and writes the clock's slot (recovered).
    """
    if not last_slot:
        return False
    # Ahead of both the clock and the slot asked for: a task run by hand for a future slot is
    # handled once it ran (its own slot is recorded), not polled again and again.
    current = max(slot_key(slot_of(now)), slot_key(slot))
    if last_slot > current:
        logger.warning(
            "spotify poll state is ahead of the clock (last slot %s, now %s): polling again",
            last_slot,
            current,
        )
        return False
    return last_slot >= slot_key(slot)
