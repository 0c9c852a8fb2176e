"""One account's polling state: ``state/spotify/<account>.json``.

Written atomically by every poll; read by ``IngestRecentlyPlayed.complete()``, ``music-tracker
status`` and notifications. Keys:

``account``
    The account name.
``cursor_ms`` / ``cursor_at``
    Newest ``played_at`` ever seen, Unix milliseconds / ISO UTC (null before the first poll).
``last_slot``
    ISO minute of the last slot handled (``IngestRecentlyPlayed.complete()`` compares it).
``last_poll_at``
    ISO UTC time of the last poll attempt (also set when a poll was skipped or failed).
``last_poll_status``
    ``ok``, ``skipped`` (rate limit still in force) or ``error``.
``last_success_at``
    ISO UTC time of the last poll that landed its response.
``resume_after``
    ISO UTC time before which the account is not polled (after a long 429), else null.
``last_error``
    Null after a success, else ``{"kind", "message", "at"}``; kinds: ``not_authorised``,
    ``reauth_required``, ``missing_scope``, ``forbidden``, ``rate_limited``, ``server_error``,
    ``bad_response``, ``no_answer`` (timeouts), ``config``, ``http_error``. ``message`` says
    what to do.
``plays_last_poll`` / ``items_last_poll``
    New plays landed by / items returned by the last successful poll.
``last_poll_id`` / ``last_raw`` / ``last_raw_sha256``
    Id, raw file (relative to the data dir) and hash of the last response kept. A response
    byte-identical to the last landed one (nothing played since) is not stored again.
``first_authorised_at`` / ``refresh_expires_at``
    When the account was authorised and when that authorisation ends (six months later).
``auth_warning``
    Text when the authorisation ends within ``spotify.refresh_warning_days``, else null.
``gaps_detected`` / ``last_gap``
    Count of gaps so far and the latest ``{"start", "end"}`` window.
``slots``
    The recent slots' outcomes ``{slot: {"status", "poll_id", "days", "plays"}}`` (last 96).
``quarantined``
    Keys of recently quarantined items, so a removed track listed for several polls is
    quarantined once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from pipeline.io.atomic import write_json_atomic
from pipeline.paths import Lake
from pipeline.settings import get_settings
from pipeline.transform.slots import slot_key

logger = logging.getLogger(__name__)

_SLOTS_KEPT = 96
_QUARANTINE_KEYS_KEPT = 500


def load_state(the_lake: Lake, account: str) -> dict[str, Any]:
    """The account's polling state (an empty one before the first poll)."""
    path = the_lake.spotify_state(account)
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                return data
        except (OSError, ValueError):
            logger.warning("state file %s unreadable; starting from an empty state", path)
    return {"account": account, "cursor_ms": None, "slots": {}, "quarantined": []}


def save_state(the_lake: Lake, account: str, state: dict[str, Any]) -> None:
    slots = state.get("slots", {})
    state["slots"] = {k: slots[k] for k in sorted(slots)[-_SLOTS_KEPT:]}
    state["quarantined"] = list(state.get("quarantined", []))[-_QUARANTINE_KEYS_KEPT:]
    write_json_atomic(the_lake.spotify_state(account), state)


def slot_outcomes(the_lake: Lake, slot: dt.datetime) -> dict[str, dict[str, Any]]:
    """Each configured account's recorded outcome for ``slot``."""
    found = {}
    for account in get_settings().accounts:
        state = load_state(the_lake, account.name)
        found[account.name] = state.get("slots", {}).get(slot_key(slot), {})
    return found
