"""Callback delivery: provider pushes fired from the simulated timeline.

A dispatcher thread wakes every ~50 ms (or at once after the clock jumps),
turns due state changes into deliveries, applies the callback faults, and
hands them to a few sender threads. Deliveries for one order go out one at a
time in the order they became due, so without ``reorder_callbacks`` a
receiver sees an order's states in sequence; with it, random delays let a
later state overtake an earlier one, as happens in production. A failed POST
is counted and forgotten: neither provider retries.
"""

from __future__ import annotations

import heapq
import itertools
import json
import queue
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .dialects import Links, callback_body
from .faults import FaultInjector, Faults
from .stats import Stats
from .world import World

USER_AGENT = "django-shipping-orders-sandbox"


@dataclass(frozen=True)
class Delivery:
    """One POST to make."""

    ref: str
    state: str
    url: str
    body: bytes
    headers: dict[str, str]


class CallbackDispatcher:
    """Fires due callbacks in the background; ``start()`` and ``stop()`` it."""

    def __init__(
        self,
        world: World,
        links: Links,
        faults: Callable[[], Faults],
        injector: FaultInjector,
        stats: Stats,
        interval: float = 0.05,
        timeout: float = 5.0,
        workers: int = 4,
    ) -> None:
        self.world = world
        self.links = links
        self._faults = faults
        self._injector = injector
        self._stats = stats
        self.interval = interval
        self.timeout = timeout
        self._workers = workers
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._delayed: list[tuple[float, int, Delivery]] = []
        self._seq = itertools.count()
        self._qlock = threading.Lock()
        self._queues: dict[str, deque[Delivery]] = {}
        self._ready: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._in_flight = 0
        self._ticking = 0  # due events popped but not queued yet still count as busy
        # Callbacks usually go to localhost: never through an environment proxy.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def start(self) -> None:
        """Start the dispatcher and sender threads."""
        self._stopping.clear()
        loop = threading.Thread(target=self._run, name="sandbox-callbacks", daemon=True)
        self._threads = [loop]
        for i in range(self._workers):
            self._threads.append(
                threading.Thread(target=self._send_loop, name=f"sandbox-sender-{i}", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop all threads; undelivered callbacks are discarded."""
        self._stopping.set()
        self._wake.set()
        for _ in range(self._workers):
            self._ready.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = []

    def wake(self) -> None:
        """Look for due callbacks now rather than at the next tick."""
        self._wake.set()

    def idle(self) -> bool:
        """True when nothing is waiting to be sent or being sent."""
        with self._qlock:
            busy = self._ticking or self._delayed or self._queues or self._in_flight
        return not busy

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._next_wait())
            self._wake.clear()
            if self._stopping.is_set():
                break
            self.tick()

    def _next_wait(self) -> float:
        """A tick, or less when a delayed delivery falls due sooner."""
        with self._qlock:
            if not self._delayed:
                return self.interval
            wait = self._delayed[0][0] - time.monotonic()
        return min(self.interval, max(0.001, wait))

    def tick(self) -> None:
        """Turn due state changes into deliveries and release delayed ones."""
        with self._qlock:
            self._ticking += 1
        try:
            self._tick()
        finally:
            with self._qlock:
                self._ticking -= 1

    def _tick(self) -> None:
        faults = self._faults()
        due = self.world.pop_due(self.world.clock.now())
        planned: list[tuple[float, Delivery]] = []
        for event in due:
            account = self.world.accounts.get(event.order.api_key)
            if account is None or not account.callback_url:
                continue
            with self.world.lock:
                body = callback_body(event.order, event.state, event.at, self.links)
            headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
            if account.secret_header and account.secret is not None:
                headers[account.secret_header] = account.secret
            delivery = Delivery(
                event.order.ref,
                event.state,
                account.callback_url,
                json.dumps(body).encode(),
                headers,
            )
            self._stats.callback("scheduled")
            delays = self._injector.callback_delays(faults)
            if not delays:
                self._stats.callback("dropped")
            if len(delays) > 1:
                self._stats.callback("duplicated", len(delays) - 1)
            if faults.reorder_callbacks:
                self._stats.callback("delayed", len(delays))
            planned.extend((delay, delivery) for delay in delays)
        now = time.monotonic()
        with self._qlock:
            for delay, delivery in planned:
                heapq.heappush(self._delayed, (now + delay, next(self._seq), delivery))
            while self._delayed and self._delayed[0][0] <= now:
                self._enqueue(heapq.heappop(self._delayed)[2])

    def _enqueue(self, delivery: Delivery) -> None:
        """Queue behind earlier deliveries of the same order (caller holds _qlock)."""
        pending = self._queues.get(delivery.ref)
        if pending is None:
            self._queues[delivery.ref] = deque([delivery])
            self._ready.put(delivery.ref)
        else:
            pending.append(delivery)

    def _send_loop(self) -> None:
        while True:
            ref = self._ready.get()
            if ref is None or self._stopping.is_set():
                return
            with self._qlock:
                delivery = self._queues[ref].popleft()
                self._in_flight += 1
            try:
                self._post(delivery)
            finally:
                with self._qlock:
                    self._in_flight -= 1
                    if self._queues[ref]:
                        self._ready.put(ref)
                    else:
                        del self._queues[ref]

    def _post(self, delivery: Delivery) -> None:
        request = urllib.request.Request(  # noqa: S310 - the URL is the account's own setting
            delivery.url, data=delivery.body, headers=delivery.headers, method="POST"
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read()
                ok = 200 <= response.status < 300
        except (urllib.error.URLError, OSError, ValueError):
            ok = False
        self._stats.callback("sent" if ok else "failed")
