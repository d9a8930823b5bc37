"""The sandbox server object: lifecycle, request routing and the Python control API.

A real HTTP server rather than a mock transport, so the app's own HTTP client
(sessions, keep-alive, timeouts, retries) is what gets tested.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .control import handle_other
from .dialects import Links
from .faults import FaultInjector, Faults
from .httpd import SandboxHTTPServer
from .meter import ArrivalMeter
from .pdf import check_available
from .routes import Headers, Response, handle_api
from .simulated_time import Clock, iso
from .stats import Stats
from .webhooks import CallbackDispatcher
from .world import SandboxAccount, SandboxOrder, Schedule, World


class SandboxServer:
    """A provider sandbox speaking Shippit (``/api/3``) and Sender.lv (``/api/v1``).

    Use it as a context manager, or call ``start()`` and ``stop()``. Everything
    the control API offers over HTTP is also a method here.

    ``port=0`` picks a free port (read ``url`` after ``start()``). ``speed`` is
    simulated seconds per real second; ``seed`` fixes references, processing
    times, outcomes and fault draws; ``cancel_share`` is the share of orders
    whose processing ends cancelled; ``faults`` are the faults in force at
    start; ``schedule`` sets how long each step of an order's life takes;
    ``state_file`` is loaded at construction and written at ``stop()``;
    ``public_url`` replaces ``http://host:port`` in the links handed out (for
    a sandbox behind a proxy or in a container); ``start_time`` is the
    simulated epoch at start (default: now).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        speed: float = 1.0,
        seed: int | None = None,
        cancel_share: float = 0.1,
        faults: Faults | None = None,
        accounts: Iterable[SandboxAccount] = (),
        schedule: Schedule | None = None,
        state_file: str | os.PathLike[str] | None = None,
        public_url: str | None = None,
        start_time: float | None = None,
        callback_timeout: float = 5.0,
        callback_interval: float = 0.05,
    ) -> None:
        check_available()  # fail at start, naming the extra, not at the first label
        self.host = host
        self.port = port
        self.seed = seed
        self.state_file = Path(state_file) if state_file else None
        self._public_url = public_url
        saved = self._read_state()
        if saved is not None:
            start_time = float(saved["sim_time"])
        self.clock = Clock(speed=speed, start=start_time)
        self.world = World(self.clock, seed=seed, cancel_share=cancel_share, schedule=schedule)
        self._faults = faults or Faults()
        fault_seed = self._faults.seed if self._faults.seed is not None else seed
        self.injector = FaultInjector(fault_seed)
        # What the provider saw: every request's arrival per key, and its 429s.
        self.meter = ArrivalMeter(
            self.clock.now,
            lambda: self.clock.speed,
            window=self._faults.rate_window,
            clock=self._faults.rate_clock,
        )
        self.counters = Stats()
        self.stopping = threading.Event()
        if saved is not None:
            self._signing_key = bytes.fromhex(saved["signing_key"])
            self.world.load_dict(saved)
        elif seed is not None:
            self._signing_key = hashlib.sha256(f"sandbox-signing-{seed}".encode()).digest()
        else:
            self._signing_key = secrets.token_bytes(32)
        for account in accounts:
            self.world.add_account(account)
        self.links = Links(self._base_url(), self._signing_key)
        self.dispatcher = CallbackDispatcher(
            self.world,
            self.links,
            lambda: self._faults,
            self.injector,
            self.counters,
            interval=callback_interval,
            timeout=callback_timeout,
        )
        self._httpd: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------

    def start(self) -> SandboxServer:
        """Bind, then serve and dispatch callbacks in background threads."""
        if self._httpd is not None:
            return self
        self.stopping.clear()
        self._httpd = SandboxHTTPServer((self.host, self.port), self)
        self.port = self._httpd.server_address[1]
        self.links.base_url = self._base_url()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="sandbox-http",
        )
        self._thread.start()
        self.dispatcher.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and save the state file if any."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self.dispatcher.stop()
        if self.state_file is not None:
            self.save_state(self.state_file)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Start and block until interrupted (Ctrl-C), then stop cleanly."""
        self.start()
        try:
            while not self.stopping.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    # -- addresses --------------------------------------------------------

    def _base_url(self) -> str:
        if self._public_url:
            return self._public_url.rstrip("/")
        host = self.host if self.host not in ("", "0.0.0.0", "::") else "127.0.0.1"  # noqa: S104
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8765``."""
        return self.links.base_url

    @property
    def shippit_url(self) -> str:
        """Base URL of the Shippit dialect."""
        return self.url + "/api/3"

    @property
    def senderlv_url(self) -> str:
        """Base URL of the Sender.lv dialect."""
        return self.url + "/api/v1"

    # -- requests ---------------------------------------------------------

    def handle(self, method: str, path: str, query: str, headers: Headers, body: bytes) -> Response:
        """Route one HTTP request (the handler's only entry point)."""
        if path.startswith("/api/3/"):
            return handle_api(self, "shippit", method, path[6:], headers, body)
        if path.startswith("/api/v1/"):
            return handle_api(self, "senderlv", method, path[7:], headers, body)
        return handle_other(self, method, path, query, headers, body)

    # -- the Python control API ---------------------------------------------

    def add_account(
        self,
        key: str,
        dialect: str = "shippit",
        callback_url: str | None = None,
        secret_header: str | None = None,
        secret: str | None = None,
        rate_limit: int | None = None,
    ) -> SandboxAccount:
        """Register (or replace) a merchant account; ``rate_limit`` overrides the fault's."""
        account = SandboxAccount(key, dialect, callback_url, secret_header, secret, rate_limit)
        return self.world.add_account(account)

    def accounts(self) -> list[SandboxAccount]:
        """Registered accounts."""
        with self.world.lock:
            return list(self.world.accounts.values())

    def now(self) -> float:
        """Simulated time, epoch seconds."""
        return self.clock.now()

    def advance(self, seconds: float) -> float:
        """Move simulated time forward; due callbacks fire right away. Returns the new time."""
        now = self.clock.advance(seconds)
        self.dispatcher.wake()
        return now

    def set_speed(self, speed: float) -> None:
        """Change how many simulated seconds pass per real second."""
        self.clock.speed = speed

    def process_all(self) -> float:
        """Advance just past the end of every pending processing; returns seconds advanced."""
        now = self.clock.now()
        end = self.world.next_processing_end(now)
        if end is None:
            return 0.0
        seconds = end - now + 0.001
        self.advance(seconds)
        return seconds

    @property
    def faults(self) -> Faults:
        """Faults in force."""
        return self._faults

    def set_faults(self, **changes: Any) -> Faults:
        """Change some faults (see :class:`Faults`); ``seed`` restarts the fault draws."""
        new = self._faults.with_changes(**changes)
        if "seed" in changes:
            self.injector.reseed(new.seed)
        if {"rate_limit", "rate_window", "rate_clock"} & set(changes):
            self.meter.configure(window=new.rate_window, clock=new.rate_clock)
        self._faults = new
        return new

    @property
    def cancel_share(self) -> float:
        """Share of orders whose processing ends cancelled."""
        return self.world.cancel_share

    @cancel_share.setter
    def cancel_share(self, value: float) -> None:
        if not 0 <= value <= 1:
            raise ValueError("cancel_share must be between 0 and 1")
        self.world.cancel_share = float(value)

    def stats(self) -> dict[str, Any]:
        """Request, status, fault and callback counters, and the arrival meter's figures."""
        return {**self.counters.snapshot(), "meter": self.meter.snapshot()}

    def reset_stats(self) -> None:
        """Zero the counters (the meter's figures too; its budget keeps counting)."""
        self.counters.reset()
        self.meter.reset_counts()

    def clock_info(self) -> dict[str, Any]:
        """Simulated time and speed."""
        now = self.clock.now()
        return {"now": iso(now), "epoch": now, "speed": self.clock.speed}

    def _order_info(self, order: SandboxOrder, now: float) -> dict[str, Any]:
        return {
            "reference": order.ref,
            "dialect": order.dialect,
            "api_key": order.api_key,
            "state": order.state_at(now),
            "placed_at": iso(order.placed_at),
            "processed_at": iso(order.processed_at),
            "processed_at_epoch": order.processed_at,
            "processing_seconds": order.processed_at - order.placed_at,
            "processed": order.processed_at <= now,
            "label_available": order.allocated(now),
            "courier": order.courier if order.allocated(now) else "",
            "courier_job_id": order.courier_job_id if order.allocated(now) else "",
            "booked_at": iso(order.booked_at),
            "history": [{"state": s, "at": iso(w)} for s, w in order.history_at(now)],
            "api_calls": sum(order.calls.values()),
            "calls": dict(order.calls),
        }

    def orders(self) -> list[dict[str, Any]]:
        """Every order with its state, processing time, label status and API calls."""
        now = self.clock.now()
        with self.world.lock:
            return [self._order_info(o, now) for o in self.world.orders.values()]

    def order_info(self, ref: str) -> dict[str, Any] | None:
        """One order as in :meth:`orders`, or None."""
        with self.world.lock:
            order = self.world.orders.get(ref)
            return None if order is None else self._order_info(order, self.clock.now())

    def wait_for_callbacks(self, timeout: float = 5.0) -> bool:
        """Block until due callbacks are sent (delayed ones included); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.dispatcher.wake()
            time.sleep(self.dispatcher.interval / 2)
            # Due events first: once popped, the dispatcher reports them as busy.
            if not self.world.has_due(self.clock.now()) and self.dispatcher.idle():
                return True
        return False

    # -- state file -------------------------------------------------------

    def _read_state(self) -> dict[str, Any] | None:
        if self.state_file is None or not self.state_file.exists():
            return None
        return json.loads(self.state_file.read_text(encoding="utf-8"))

    def save_state(self, path: str | os.PathLike[str]) -> None:
        """Write accounts, orders and the clock as JSON (atomically)."""
        data = self.world.to_dict()
        data["signing_key"] = self._signing_key.hex()
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, target)
