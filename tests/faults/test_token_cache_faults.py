"""A corrupt token cache (``state/tokens/<account>.json``): the poll says to run
``music-tracker auth <account>``, makes no call for that account, the other account still
polls, nothing already landed is touched, and after re-authorising the next poll lands again."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.helpers import temp_leftovers, unreadable_visible_files
from tests.faults.http_faults import ok
from tests.faults.http_faults import write_cassette as cassette_file
from tests.faults.test_service_faults import (
    JAVA,
    RECENTLY_PLAYED,
    ZMB3,
    files_under,
    poll,
    poll_interaction,
    poll_state,
    polled_ids,
)
from tests.faults.test_service_faults import lake_dir as lake_dir  # noqa: F401 - fixture
from tests.spotify_support import write_token


def _truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _not_json(path: Path) -> None:
    path.write_bytes(b"\x00\x9f\x92\x96 binary garbage, not JSON")


def _json_list(path: Path) -> None:
    path.write_text(json.dumps([json.loads(path.read_text())]))


def _edit(**changes: object) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        data = json.loads(path.read_text())
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        path.write_text(json.dumps(data))

    return apply


def _directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _no_permission(path: Path) -> None:
    path.chmod(0o000)


CORRUPTIONS: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated": (_truncated, "not valid JSON"),
    "not_json": (_not_json, "not valid JSON"),
    "json_list": (_json_list, "not a JSON object"),
    "no_refresh_token": (_edit(refresh_token=None), "no refresh_token"),
    "expires_at_text": (_edit(expires_at="soon"), "expires_at is not a number"),
    "first_authorised_at_text": (
        _edit(first_authorised_at="last tuesday"),
        "first_authorised_at is not a date",
    ),
    "directory": (_directory, "cannot read it"),
    "no_permission": (_no_permission, "cannot read it"),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_corrupt_token_cache(corruption: str, lake_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    """The broken account's poll records a clear error naming `music-tracker auth me`, makes
    no request, the other account lands its plays, and re-authorising heals the next poll."""
    if corruption == "no_permission" and os.geteuid() == 0:
        pytest.skip("root reads a 0000 file anyway; the 'directory' case covers unreadable")
    corrupt, why = CORRUPTIONS[corruption]
    token = write_token("me")
    write_token("partner")
    first = cassette_file(
        tmp_path / "poll0.yaml",
        [
            poll_interaction("me", ok(RECENTLY_PLAYED, ZMB3)),
            poll_interaction("partner", ok(RECENTLY_PLAYED, JAVA)),
        ],
    )
    assert poll(first, 0)[0]
    # What was landed (raw responses, poll files); staged/plays days may be rebuilt with more.
    landed = ("raw/", "staged/polls/", "staged/quarantine/")
    before = {k: v for k, v in files_under(lake_dir).items() if k.startswith(landed)}
    corrupt(token)
    broken = token.read_bytes() if token.is_file() else None
    # Only the partner may call: a request for "me" is not in the cassette and would fail.
    second = cassette_file(
        tmp_path / "poll1.yaml", [poll_interaction("partner", ok(RECENTLY_PLAYED, ZMB3))]
    )
    done, played, _ = poll(second, 1)
    assert done  # no traceback: the task finished and recorded the problem
    assert played.play_count == 1
    me = poll_state(lake_dir, "me")
    assert me["last_poll_status"] == "error"
    assert me["last_error"]["kind"] == "not_authorised"
    message = me["last_error"]["message"]
    assert "run `music-tracker auth me`" in message and why in message, message
    assert "token cache" in message and str(token) in message
    partner = poll_state(lake_dir, "partner")
    assert partner["last_poll_status"] == "ok" and partner["plays_last_poll"] == 5
    now = files_under(lake_dir)
    assert {k: now.get(k) for k in before} == before  # nothing landed earlier changed
    assert (token.read_bytes() if token.is_file() else None) == broken  # left for inspection
    assert unreadable_visible_files(lake_dir) == [] and temp_leftovers(lake_dir) == []
    # `music-tracker auth me` writes a fresh cache (as write_token does); the next poll lands.
    if token.is_dir():
        token.rmdir()
    else:
        token.chmod(0o600)
    write_token("me")
    third = cassette_file(
        tmp_path / "poll2.yaml",
        [
            poll_interaction("me", ok(RECENTLY_PLAYED, JAVA)),
            poll_interaction("partner", ok(RECENTLY_PLAYED, ZMB3)),
        ],
    )
    assert poll(third, 2)[0]
    assert poll_state(lake_dir, "me")["last_error"] is None
    assert len(polled_ids(lake_dir, "me")) == 5 + 2
