"""The provider's side of the rate limit: every API request's arrival per key, counted as it lands.

A client's own count says what the client meant to send; this meter says what
the provider received. It records the arrival of every API request that
carries a known key (refused or not), reports the busiest window per key
(``busiest``), and, as Shippit does, refuses a request with 429 and a
``Retry-After`` when the key already had ``limit`` requests admitted in the
last window.

The window is 60 s by default and can be shortened (``rate_window``) so that
tests and benchmarks see many windows quickly. It runs on the sandbox's
simulated clock by default (``rate_clock="simulated"``: a sandbox moved
through days in seconds keeps a per-minute budget of simulated time), or on
the real monotonic clock (``rate_clock="real"``), which is what a client
that keeps to a rate limit in real time must be judged against.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

CLOCKS = ("simulated", "real")


def busiest_window(arrivals: list[float], window: float) -> int:
    """The most arrivals in any half-open window ``(t - window, t]``."""
    ordered = sorted(arrivals)
    best = start = 0
    for end, stamp in enumerate(ordered):
        while ordered[start] <= stamp - window:
            start += 1
        best = max(best, end - start + 1)
    return best


class ArrivalMeter:
    """Arrivals and admissions per key over a sliding window; thread-safe."""

    _requests: dict[str, int]
    _busiest: dict[str, int]
    _refused: dict[str, int]
    _seen: dict[str, deque[float]]
    _admitted: dict[str, deque[float]]

    def __init__(
        self,
        simulated: Callable[[], float],
        speed: Callable[[], float],
        *,
        window: float = 60.0,
        clock: str = "simulated",
    ) -> None:
        self._simulated = simulated
        self._speed = speed
        self._lock = threading.Lock()
        self.configure(window=window, clock=clock)

    def configure(self, *, window: float, clock: str) -> None:
        """Set the window and the clock; counting starts again from zero."""
        if window <= 0:
            raise ValueError("rate_window must be > 0")
        if clock not in CLOCKS:
            raise ValueError(f"rate_clock must be one of {', '.join(CLOCKS)}")
        with self._lock:
            self.window = float(window)
            self.clock = clock
            self._reset()

    def now(self) -> float:
        """The meter's time: simulated epoch seconds, or the real monotonic clock."""
        return time.monotonic() if self.clock == "real" else self._simulated()

    def arrive(self, key: str, limit: int | None) -> float | None:
        """Record one request of ``key``; None if admitted, else seconds until a slot frees."""
        now = self.now()
        with self._lock:
            self._requests[key] = self._requests.get(key, 0) + 1
            seen = self._seen.setdefault(key, deque())
            seen.append(now)
            while seen[0] <= now - self.window:
                seen.popleft()
            self._busiest[key] = max(self._busiest.get(key, 0), len(seen))
            if not limit:
                return None
            admitted = self._admitted.setdefault(key, deque())
            while admitted and admitted[0] <= now - self.window:
                admitted.popleft()
            if len(admitted) >= limit:
                self._refused[key] = self._refused.get(key, 0) + 1
                return admitted[len(admitted) - limit] + self.window - now
            admitted.append(now)
            return None

    def retry_after(self, wait: float) -> str:
        """``Retry-After`` in whole real seconds, at least 1 (60 when simulated time is frozen)."""
        if self.clock == "simulated":
            speed = self._speed()
            if speed <= 0:
                return "60"
            wait = wait / speed
        return str(max(1, math.ceil(wait)))

    def reset_counts(self) -> None:
        """Forget the figures (``busiest``, ``requests``), keep counting the budget."""
        with self._lock:
            self._requests = {}
            self._busiest = {}
            self._refused = {}
            self._seen = {}

    def reset(self) -> None:
        """Forget everything, the budget included."""
        with self._lock:
            self._reset()

    def _reset(self) -> None:
        self._requests, self._busiest, self._refused = {}, {}, {}
        self._seen, self._admitted = {}, {}

    def busiest(self) -> dict[str, int]:
        """Per key: the most requests that arrived in any one window."""
        with self._lock:
            return dict(self._busiest)

    def snapshot(self) -> dict[str, Any]:
        """The figures as JSON-ready data."""
        with self._lock:
            return {
                "clock": self.clock,
                "window_seconds": self.window,
                "requests": dict(self._requests),
                "busiest": dict(self._busiest),
                "refused": dict(self._refused),
            }
