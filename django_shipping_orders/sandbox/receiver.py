"""A callback receiver for tests that run without Django.

The sandbox pushes callbacks to a URL; this records what arrives there so a
test can assert on bodies, headers and arrival order.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class ReceivedCallback:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        receiver = self.server.receiver
        with receiver._cond:
            receiver.received.append(ReceivedCallback(self.path, dict(self.headers), body))
            receiver._cond.notify_all()
        answer = b'{"ok": true}'
        self.send_response(receiver.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], receiver: CallbackReceiver) -> None:
        self.receiver = receiver
        super().__init__(address, _Handler)


class CallbackReceiver:
    """Records POSTed callbacks; answers each with ``status`` (200 unless changed)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, status: int = 200) -> None:
        self.status = status
        self.received: list[ReceivedCallback] = []
        self._cond = threading.Condition()
        self._server = _Server((host, port), self)
        self.url = f"http://{host}:{self._server.server_address[1]}/callback"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> CallbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedCallback]:
        """Wait until at least ``count`` callbacks arrived; returns all of them so far."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return list(self.received)

    def bodies(self) -> list[Any]:
        """Every received body, parsed."""
        with self._cond:
            return [r.json() for r in self.received]
