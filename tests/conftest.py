"""Shared fixtures: documented payloads, a local HTTP server that answers as we script it."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Profiles for tests that take their example counts from the profile (the model-based
# tests): "dev" by default, "ci" (thousands of examples) with HYPOTHESIS_PROFILE=ci.
_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
settings.register_profile(
    "dev",
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=_SLOW_IS_FINE,
)
settings.register_profile(
    "ci",
    max_examples=400,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=_SLOW_IS_FINE,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def get_order_200() -> dict[str, Any]:
    return load_fixture("get_order_200.json")


@pytest.fixture
def shippit_webhook() -> dict[str, Any]:
    return load_fixture("shippit_webhook.json")


@pytest.fixture(autouse=True)
def _fresh_providers() -> Iterator[None]:
    """Fresh adapters and an empty cache: no rate budget or lock leaks between tests."""
    from django.core.cache import cache

    from django_shipping_orders.providers import reset_providers

    reset_providers()
    cache.clear()
    yield
    reset_providers()


class ScriptedServer:
    """A real HTTP server on loopback that answers from a queue of scripted responses."""

    def __init__(self) -> None:
        self.responses: list[tuple[int, Any, dict[str, str]]] = []
        self.requests: list[dict[str, Any]] = []
        self.default: tuple[int, Any, dict[str, str]] = (404, {"error": "not_found"}, {})
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                status, payload, headers = (
                    outer.responses.pop(0) if outer.responses else outer.default
                )
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def add(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self.responses.append((status, payload, headers or {}))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.close()
