"""Provisioning against a Metabase that answers oddly: a wrong shape, not up yet, a bad config.

The strict fake (``fake_metabase.py``) answers as Metabase does; these tests need answers it
never gives (a proxy's page, an object without its id, 503 while Metabase starts), so they serve
canned answers from a small server of their own. Each one would have ended in a traceback
(or a half-made Metabase) before the client checked the shapes it reads.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli import main
from pipeline.clients.http import HttpClient
from pipeline.ops.metabase import DashboardConfigError, load_config
from tests.conftest import REPO
from tests.ops.conftest import free_port

CONFIG = REPO / "config" / "metabase"

#: What a set-up Metabase answers to each call provisioning makes (shapes from CONTRACT.md).
GOOD: dict[tuple[str, str], tuple[int, Any]] = {
    ("GET", "/api/session/properties"): (200, {"has-user-setup": True}),
    ("POST", "/api/session"): (200, {"id": "0a1b2c3d-session"}),
    ("GET", "/api/database"): (200, {"data": [], "total": 0}),
    ("POST", "/api/database"): (200, {"id": 2}),
    ("GET", "/api/collection"): (200, [{"id": "root", "name": "Our analytics"}]),
    ("POST", "/api/collection"): (200, {"id": 5}),
    ("GET", "/api/collection/5/items"): (200, {"data": [], "total": 0}),
    ("POST", "/api/card"): (200, {"id": 10}),
    ("POST", "/api/dashboard"): (200, {"id": 20}),
    ("PUT", "/api/dashboard/20"): (200, {"id": 20}),
}


class Canned:
    """A server answering ``GOOD`` except where ``odd`` says otherwise; ``first`` answers the
    first N calls (any path) with one status, as a Metabase still starting does."""

    def __init__(self) -> None:
        self.odd: dict[tuple[str, str], tuple[int, Any]] = {}
        self.first: tuple[int, int] = (0, 503)
        self.calls = 0
        canned = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                canned.calls += 1
                key = (self.command, self.path.split("?")[0])
                if canned.calls <= canned.first[0]:
                    status, body = canned.first[1], b"<html>Metabase is starting</html>"
                else:
                    status, body = canned.odd.get(key, GOOD.get(key, (404, {})))
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def canned(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Canned]:
    monkeypatch.setenv("MUSIC_TRACKER_METABASE_PASSWORD", "test-password-123")
    # The client's own retries back off 1, 2, 4 s; the tests need the outcome, not the wait.
    monkeypatch.setattr(HttpClient, "_backoff", lambda self, attempt, why: None)
    monkeypatch.setattr("pipeline.ops.metabase.WAIT_STEP_S", 0.01)
    server = Canned()
    yield server
    server.server.shutdown()


def _provision(url: str, capsys: pytest.CaptureFixture, *extra: str) -> tuple[int, str]:
    code = main(["metabase", "provision", "--config-dir", str(CONFIG), "--url", url, *extra])
    captured = capsys.readouterr()
    return code, captured.err


@pytest.mark.parametrize(
    ("call", "answer", "said"),
    [
        (("GET", "/api/session/properties"), [], "GET /api/session/properties: list instead"),
        (("GET", "/api/session/properties"), {"has-user-setup": False}, "no setup-token"),
        (("POST", "/api/session"), {}, "POST /api/session: no 'id'"),
        (("POST", "/api/session"), {"id": "a\r\nX-Evil: 1"}, "session id that cannot be sent"),
        (("GET", "/api/database"), {"data": "x"}, "GET /api/database: not a list"),
        (("POST", "/api/database"), {"ok": True}, "POST /api/database: no 'id'"),
        (("GET", "/api/collection/5/items"), {"data": None}, "items: not a list"),
        (("GET", "/api/collection/5/items"), {"data": [{"name": "x"}]}, "objects with ids"),
        (("POST", "/api/card"), {"id": True}, "POST /api/card: no 'id'"),
        (("POST", "/api/dashboard"), b"null", "POST /api/dashboard: NoneType"),
        (("POST", "/api/card"), b"<html>proxy</html>", "unreadable JSON"),
    ],
)
def test_an_answer_of_the_wrong_shape_is_one_line_naming_the_call(
    canned: Canned, capsys, call: tuple[str, str], answer: Any, said: str
) -> None:
    """A proxy's page, another service on the port or a changed endpoint: exit 1 and one
    line naming the call, instead of a KeyError or AttributeError traceback."""
    canned.odd[call] = (200, answer)
    code, err = _provision(canned.url, capsys)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: metabase: "), err
    assert said in lines[0]


def test_the_canned_metabase_provisions_when_nothing_is_odd(canned: Canned, capsys) -> None:
    """The control for the cases above: the same server with no odd answer provisions."""
    code, err = _provision(canned.url, capsys)
    assert code == 0, err


def test_a_metabase_still_starting_is_named_with_the_way_to_wait(canned: Canned, capsys) -> None:
    """503 at every try (Metabase initialising): exit 1 saying it is not up and how to wait."""
    canned.first = (10_000, 503)
    code, err = _provision(canned.url, capsys)
    assert code == 1
    assert "is not up" in err and "--wait" in err and "Traceback" not in err


def test_nothing_listening_is_named_as_not_up(data_dir: Path, canned: Canned, capsys) -> None:
    """A refused connection (Metabase's container not started) reads the same way."""
    code, err = _provision(f"http://127.0.0.1:{free_port()}", capsys)
    assert code == 1 and "is not up" in err


def test_wait_sits_out_the_start_and_then_provisions(canned: Canned, capsys) -> None:
    """--wait asks again until Metabase answers: 12 calls of 503 (three rounds of the client's
    four tries) and the provisioning still completes."""
    canned.first = (12, 503)
    code, err = _provision(canned.url, capsys, "--wait", "60")
    assert code == 0, err
    assert "waiting up to 60 s" in err


def test_wait_gives_up_after_its_time(canned: Canned, capsys) -> None:
    """A Metabase that never comes up: --wait ends with the same 'not up' line."""
    canned.first = (10_000, 502)
    code, err = _provision(canned.url, capsys, "--wait", "0.2")
    assert code == 1 and "is not up" in err


@pytest.mark.parametrize("value", ["-1", "soon", "nan", "1e9"])
def test_wait_takes_seconds_from_zero_to_a_day(canned: Canned, capsys, value: str) -> None:
    with pytest.raises(SystemExit) as stop:
        _provision(canned.url, capsys, "--wait", value)
    assert stop.value.code == 2


# ---------- dashboards.yaml mistakes stop before any call


def _write(tmp_path: Path, yaml_text: str, sql: bytes = b"select 1 as x") -> Path:
    (tmp_path / "cards").mkdir(exist_ok=True)
    (tmp_path / "cards/x.sql").write_bytes(sql)
    (tmp_path / "dashboards.yaml").write_text(yaml_text, encoding="utf-8")
    return tmp_path


def _one_card(card: str) -> str:
    return (
        "collection: C\ndatabase: {name: D}\ndashboards:\n"
        f"  - {{key: a, name: A, cards: [{{key: x, name: X, sql: cards/x.sql, {card}}}]}}\n"
    )


@pytest.mark.parametrize(
    ("yaml_text", "said"),
    [
        ("collection: [\n", "not valid YAML at line 2"),
        ("\tcollection: C\n", "not valid YAML at line 1"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("collection: C\ndatabase: D\n", "database must be a mapping"),
        ("collection: ' '\ndatabase: {name: D}\n", "collection: must be non-blank"),
        ("collection: C\ndatabase: {name: D}\ndashboards: {a: 1}\n", "list of mappings"),
        (_one_card("width: wide"), "width must be a whole number from 1 to 24"),
        (_one_card("width: 0"), "width must be a whole number"),
        (_one_card("width: 30"), "from 1 to 24 (got 30)"),
        (_one_card("height: -2"), "height must be a whole number"),
        (_one_card("height: 1.5"), "height must be a whole number"),
        (_one_card("display: table").replace("name: X", "name: ''"), "cards[0].name: must be"),
        (_one_card("display: table").replace("key: x", "key: my card"), "key 'my card'"),
        (_one_card("visualization_settings: [1]"), "visualization_settings must be a mapping"),
        (_one_card("display: table").replace("sql: cards/x.sql", "sql: 5"), "sql must name"),
    ],
)
def test_a_config_mistake_is_named_before_any_call(
    tmp_path: Path, yaml_text: str, said: str
) -> None:
    """A typo in dashboards.yaml is a config error naming its place (exit 2 from the command),
    not a traceback, and not a 400 from Metabase after half the cards were made."""
    with pytest.raises(DashboardConfigError) as error:
        load_config(_write(tmp_path, yaml_text))
    assert said in str(error.value)


@pytest.mark.parametrize(
    ("sql", "said"),
    [(b"", "holds no SQL"), (b" ;\n", "holds no SQL"), (b"select '\xff'", "not UTF-8")],
)
def test_a_card_file_mistake_is_named(tmp_path: Path, sql: bytes, said: str) -> None:
    """An empty card file or one that is not UTF-8 is named with its card."""
    config = _write(tmp_path, _one_card("display: table"), sql)
    with pytest.raises(DashboardConfigError, match="cards\\[0\\]") as error:
        load_config(config)
    assert said in str(error.value)


def test_a_card_file_that_is_a_folder_is_named(tmp_path: Path) -> None:
    config = _write(tmp_path, _one_card("display: table"))
    (config / "cards/x.sql").unlink()
    (config / "cards/x.sql").mkdir()
    with pytest.raises(DashboardConfigError, match="cannot read"):
        load_config(config)


def test_the_command_says_a_yaml_mistake_in_one_line(
    tmp_path: Path, canned: Canned, capsys
) -> None:
    config = _write(tmp_path, "collection: [\n")
    code = main(["metabase", "provision", "--config-dir", str(config), "--url", canned.url])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "not valid YAML" in err
    assert canned.calls == 0
