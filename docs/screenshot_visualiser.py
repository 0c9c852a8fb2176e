"""Screenshot luigid's visualiser while ``music-tracker import`` runs (docs/visualiser-import.png).

    uv run python docs/screenshot_visualiser.py bench/.cache/histories/1M-seed42

Starts a throwaway luigid (``music-tracker --data-dir <tmp>/data scheduler`` on 127.0.0.1 and a
free port, ``MUSIC_TRACKER__SCHEDULER__*``), runs ``music-tracker --data-dir <tmp>/data import
HISTORY`` against it, polls luigid's ``/api/task_list`` and, each time a task of a new family is
RUNNING and ``--min-progress`` (25 %) along, photographs the visualiser's Workers tab with that
task's status-message dialog open: headless Chromium (``apt-get install chromium``) driven over
the DevTools protocol by the small stdlib WebSocket client below, so nothing is installed.
Every shot is kept in ``--shots`` (named ``NN-<Task>-<pct>pct.png``); the first of ``--task``
(default DbtBuild) is copied to ``--out``. luigid, Chromium and the temporary folder (the lake)
are removed at the end; the import runs to the end unless ``--stop-after-shots``. The 1M-play
history is the bench's (``bench/histories.py``, cached in ``bench/.cache/histories/``, see
bench/README.md).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, timeout: float = 5) -> object:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def wait_for(what: str, probe, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError, ValueError):
            value = probe()
            if value:
                return value
        if time.monotonic() > deadline:
            raise SystemExit(f"error: {what} did not come up within {timeout:.0f} s")
        time.sleep(0.2)


class DevTools:
    """One Chromium page over the DevTools protocol: a minimal WebSocket client (RFC 6455)."""

    def __init__(self, ws_url: str) -> None:
        parts = urllib.parse.urlsplit(ws_url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise SystemExit(f"error: DevTools refused the WebSocket: {head[:200]!r}")
        self.next_id = 0

    def _exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            buf += chunk
        return buf

    def _send(self, text: str) -> None:
        payload = text.encode()
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 1 << 16:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _recv(self) -> dict:
        message = b""
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", self._exact(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", self._exact(8))
            data = self._exact(n)  # server frames are not masked
            if b0 & 0x0F in (0x1, 0x0):
                message += data
                if b0 & 0x80:
                    return json.loads(message)

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self._send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            reply = self._recv()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_js(self, expression: str, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.js(expression):
                return True
            time.sleep(0.2)
        return False


def shoot(page: DevTools, base: str, task_id: str, out: Path, width: int, height: int) -> None:
    """The Workers tab, reloaded, with ``task_id``'s status-message dialog open."""
    # Via about:blank: a navigation to the same URL and fragment would not reload the page.
    page.call("Page.navigate", url="about:blank")
    page.call("Page.navigate", url=f"{base}static/visualiser/index.html#tab=workers")
    selector = f'.worker-table .statusMessage[data-task-id="{task_id}"]'
    button = f"document.querySelector({json.dumps(selector)})"
    if page.wait_js(f"!!{button}"):
        # Its worker's panel at the top (luigid lists the import's earlier workers too).
        page.js(
            f"const box = {button}.closest('.box');"
            "if (box.getBoundingClientRect().bottom > window.innerHeight)"
            "  window.scrollTo(0, box.getBoundingClientRect().top + window.scrollY - 60);"
            f"{button}.click()"
        )
        # The dialog asks luigid for the message; wait for its text, then for the fade-in.
        page.wait_js("($('#statusMessageModal pre').text() || '').length > 0", timeout=5)
        time.sleep(1.0)
    else:
        time.sleep(1.0)  # the worker row never showed: photograph the tab as it is
    shot = page.call(
        "Page.captureScreenshot",
        format="png",
        clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
    )
    out.write_bytes(base64.b64decode(shot["data"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("history", type=Path, help="folder of Streaming_History_*.json files")
    parser.add_argument("--task", default="DbtBuild", help="task family copied to --out")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "visualiser-import.png")
    parser.add_argument("--shots", type=Path, default=Path("/tmp/visualiser-shots"))
    parser.add_argument("--per-task", type=int, default=1, help="shots per task family")
    parser.add_argument(
        "--min-progress", type=int, default=25, help="shoot a task once it is this far (%%)"
    )
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument(
        "--stop-after-shots",
        action="store_true",
        help="stop the import once --task is photographed",
    )
    args = parser.parse_args(argv)
    if not args.history.is_dir():
        parser.error(f"no such folder: {args.history}")
    args.shots.mkdir(parents=True, exist_ok=True)

    tmp = Path(tempfile.mkdtemp(prefix="visualiser-shot-"))
    port, devtools_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}/"
    procs: list[subprocess.Popen] = []
    try:
        # luigid as `music-tracker scheduler` starts it (state, history and logs in the lake).
        env = dict(
            os.environ,
            MUSIC_TRACKER__SCHEDULER__URL=base,
            MUSIC_TRACKER__SCHEDULER__BIND_ADDRESS="127.0.0.1",
            MUSIC_TRACKER__SCHEDULER__PORT=str(port),
        )
        lake = ["--data-dir", str(tmp / "data")]
        procs.append(
            subprocess.Popen(
                [str(BIN / "music-tracker"), *lake, "scheduler"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=(tmp / "luigid.log").open("w"),
                start_new_session=True,
            )
        )
        wait_for("luigid", lambda: get_json(f"{base}api/task_list?data={{}}"))
        procs.append(
            subprocess.Popen(
                [
                    args.chromium,
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={tmp / 'chromium'}",
                    f"--remote-debugging-port={devtools_port}",
                    f"--window-size={args.width},{args.height}",
                    "about:blank",
                ],
                stdout=subprocess.DEVNULL,
                start_new_session=True,
                stderr=subprocess.DEVNULL,
            )
        )
        targets = wait_for(
            "Chromium", lambda: get_json(f"http://127.0.0.1:{devtools_port}/json/list")
        )
        ws = next(t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page")
        page = DevTools(ws)
        page.call(
            "Emulation.setDeviceMetricsOverride",
            width=args.width,
            height=args.height,
            deviceScaleFactor=1,
            mobile=False,
        )

        log = (tmp / "import.log").open("w")
        started = time.monotonic()
        importer = subprocess.Popen(
            [
                str(BIN / "music-tracker"),
                *lake,
                "import",
                str(args.history.resolve()),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        procs.append(importer)
        print(f"luigid {base}; importing {args.history} into {tmp / 'data'}", flush=True)
        shots: dict[str, int] = {}
        chosen: Path | None = None
        query = urllib.parse.quote(json.dumps({"status": "RUNNING"}))
        while importer.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                running = get_json(f"{base}api/task_list?data={query}")["response"]
                for task_id, task in running.items():
                    family, pct = task["name"], task.get("progress_percentage")
                    if (pct or 0) < args.min_progress or shots.get(family, 0) >= args.per_task:
                        continue
                    n = sum(shots.values()) + 1
                    out = args.shots / f"{n:02d}-{family}-{pct}pct.png"
                    shoot(page, base, task_id, out, args.width, args.height)
                    shots[family] = shots.get(family, 0) + 1
                    elapsed = time.monotonic() - started
                    print(f"{elapsed:5.0f} s  {out}  ({task.get('status_message')!r})", flush=True)
                    if family == args.task and chosen is None:
                        chosen = out
                    break  # one shot per poll: the next poll sees the run as it is then
            if chosen and args.stop_after_shots:
                os.killpg(importer.pid, signal.SIGTERM)  # the import and its staging child
                break
            time.sleep(0.5)
        code = importer.wait()
        print(f"import exited {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code and not (chosen and args.stop_after_shots):
            print((tmp / "import.log").read_text()[-3000:], file=sys.stderr)
        if chosen is None:
            print(f"error: no shot of a running {args.task} (shots: {shots})", file=sys.stderr)
            return 1
        shutil.copyfile(chosen, args.out)
        print(f"{chosen} -> {args.out} ({args.out.stat().st_size // 1024} KB)")
        return 0
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # each runs in its own session, children too
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
