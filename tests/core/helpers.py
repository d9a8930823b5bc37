"""Small helpers shared by the core tests."""

from __future__ import annotations

from contextlib import contextmanager
from copy import deepcopy
from typing import Any

from django.test import override_settings

from django_shipping_orders.documents import loads
from tests.conftest import fixture_bytes

API_KEY = "sk-test-4f9c1d2e-never-shown"


def documented_payload(reference: str = "PPDOC0001", **changes: Any) -> dict[str, Any]:
    """The documented Get Order body (numbers as Decimal) with a reference and changes."""
    payload = loads(fixture_bytes("get_order_200.json"))
    payload["tracking_number"] = reference
    payload.update(deepcopy(changes))
    return payload


def account_settings(base_url: str, provider: str = "shippit", **extra: Any) -> dict[str, Any]:
    return {
        "PROVIDER": provider,
        "API_KEY": API_KEY,
        "BASE_URL": base_url,
        "CALLBACK_SECRETS": ["cb-secret-never-shown"],
        "MAX_RETRIES": 2,
        "BACKOFF_FACTOR": 0,
        "TIMEOUT": 2,
        **extra,
    }


@contextmanager
def account(base_url: str, alias: str = "default", provider: str = "shippit", **extra: Any):
    """Settings with one account ``alias`` talking to ``base_url``."""
    setting = {"ACCOUNTS": {alias: account_settings(base_url, provider, **extra)}}
    with override_settings(SHIPPING_ORDERS=setting):
        yield


class HangingServer:
    """A loopback HTTP server that reads each request and never answers (a timeout, for sure)."""

    def __init__(self) -> None:
        import socket
        import threading

        self.requests: list[str] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.05)
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:

        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            conn.settimeout(1)
            data = b""
            while b"\r\n\r\n" not in data:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
            self.requests.append(data.split(b"\r\n", 1)[0].decode())
            self._conns.append(conn)  # held open, never answered

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self._conns:
            conn.close()
        self._sock.close()
