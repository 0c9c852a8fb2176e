"""Fixtures for the operations tests: subprocess CLI runs, a local webhook receiver, luigid."""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import child_env

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_env(lake: Path, **extra: str) -> dict[str, str]:
    """Environment of a `music-tracker` subprocess on ``lake`` (testing settings)."""
    return child_env(
        lake,
        **{
            "MUSIC_TRACKER__SCHEDULER__URL": f"http://127.0.0.1:{free_port()}/",  # nobody listens
            "MUSIC_TRACKER__SCHEDULER__CONNECT_TIMEOUT_SECONDS": "1",
            **extra,
        },
    )


def run_cli(
    args: list[str], env: dict[str, str], timeout: int = 300
) -> subprocess.CompletedProcess:
    """Run `music-tracker ARGS` as cron or Docker would: a separate process."""
    return run_python(["-m", "pipeline.cli", *args], env, timeout)


def run_python(
    args: list[str], env: dict[str, str], timeout: int = 300
) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` from the repository root, its output captured as text."""
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records every POST."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        received = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body.decode()}
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def json_bodies(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local HTTP receiver for notifications."""
    r = Receiver()
    yield r
    r.close()


class Luigid:
    """A real luigid started through `music-tracker scheduler` on a random port."""

    def __init__(self, lake: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = cli_env(lake, MUSIC_TRACKER__SCHEDULER__PORT=str(self.port))
        env["MUSIC_TRACKER__SCHEDULER__BIND_ADDRESS"] = "127.0.0.1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "scheduler"],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"luigid exited: {self.proc.stderr.read()}") from None
                time.sleep(0.2)
        raise RuntimeError("luigid did not start")

    def api(self, method: str, data: dict | None = None) -> dict:
        import urllib.parse
        import urllib.request

        query = urllib.parse.urlencode({"data": json.dumps(data or {})})
        with urllib.request.urlopen(f"{self.url}api/{method}?{query}", timeout=10) as resp:
            return json.loads(resp.read())["response"]

    def get(self, path: str) -> str:
        import urllib.request

        with urllib.request.urlopen(f"{self.url}{path.lstrip('/')}", timeout=10) as resp:
            return resp.read().decode()

    def peak_rss_kb(self) -> int:
        """VmHWM of the luigid process (peak resident memory)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return -1

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
