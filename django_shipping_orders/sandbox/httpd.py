"""HTTP plumbing: a keep-alive ``ThreadingHTTPServer`` that hands each request to
the sandbox and writes the answer in one piece.

One write per response with Nagle off matters: a header write followed by a
body write makes keep-alive clients wait for delayed ACKs, and the sandbox
would look 40 ms slow per request.
"""

from __future__ import annotations

import contextlib
import socket
import time
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from .routes import Headers, Response

_REASONS = {s.value: s.phrase for s in HTTPStatus}
_BUG = Response(500, b'{"error":"sandbox_error","error_description":"The sandbox failed."}')


class RequestHandler(Protocol):
    """What the HTTP layer needs from the sandbox."""

    def handle(
        self, method: str, path: str, query: str, headers: Headers, body: bytes
    ) -> Response: ...


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ShippingSandbox/1.0"
    disable_nagle_algorithm = True
    timeout = 300  # idle keep-alive connections give their thread back eventually
    server: SandboxHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the stats endpoint is the sandbox's log."""

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        try:
            body = self._body()
        except ValueError:
            self.close_connection = True
            self._write(Response(400, b'{"error":"bad_request","error_description":"bad body"}'))
            return
        path, _, query = self.path.partition("?")
        response = _BUG
        try:
            response = self.server.sandbox.handle(self.command, path, query, self.headers, body)
        finally:  # a sandbox bug still gets an answer (and its traceback on stderr)
            if response.status == 0:
                self.close_connection = True
            else:
                self._write(response)

    def _write(self, response: Response) -> None:
        head = [
            f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Unknown')}",
            f"Server: {self.server_version}",
            f"Date: {_http_date()}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
        ]
        head.extend(f"{name}: {value}" for name, value in response.headers)
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve


_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    global _date_cache  # a one-second cache shared by all handler threads
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


class SandboxHTTPServer(ThreadingHTTPServer):
    """Threaded, keep-alive, and able to cut its open connections when stopping."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sandbox: RequestHandler) -> None:
        self.sandbox = sandbox
        self.connections: set[socket.socket] = set()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def close_connections(self) -> None:
        """Shut down keep-alive connections so their threads end now."""
        for conn in list(self.connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
