"""Counters that let a test or a benchmark check how a client behaved.

The figure that matters most is the busiest 60 s of simulated time per key:
it shows whether a client kept to a provider's rate limit without the sandbox
having to enforce one.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any

CALLBACK_OUTCOMES = ("scheduled", "sent", "dropped", "failed", "duplicated", "delayed")


class Stats:
    """Request and callback counters, safe to update from many threads."""

    WINDOW = 60.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self._routes: Counter[str] = Counter()
            self._keys: Counter[str] = Counter()
            self._statuses: Counter[str] = Counter()
            self._callbacks: Counter[str] = Counter({k: 0 for k in CALLBACK_OUTCOMES})
            self._windows: dict[str, deque[float]] = {}
            self._max_window: dict[str, int] = {}
            self._faults: Counter[str] = Counter()

    def record(self, route: str, key: str | None, status: int | str, now: float) -> None:
        """Count one request; ``status`` may be ``"timeout"`` for an unanswered one."""
        with self._lock:
            self._routes[route] += 1
            self._statuses[str(status)] += 1
            if key is None:
                return
            self._keys[key] += 1
            window = self._windows.get(key)
            if window is None:
                window = self._windows[key] = deque()
            window.append(now)
            while window[0] <= now - self.WINDOW:
                window.popleft()
            if len(window) > self._max_window.get(key, 0):
                self._max_window[key] = len(window)

    def fault(self, name: str) -> None:
        """Count an injected fault."""
        with self._lock:
            self._faults[name] += 1

    def callback(self, outcome: str, count: int = 1) -> None:
        """Count a callback outcome (one of ``CALLBACK_OUTCOMES``)."""
        with self._lock:
            self._callbacks[outcome] += count

    def snapshot(self) -> dict[str, Any]:
        """All counters as JSON-ready data."""
        with self._lock:
            return {
                "requests": sum(self._routes.values()),
                "routes": dict(self._routes),
                "keys": dict(self._keys),
                "statuses": dict(self._statuses),
                "throttled": self._statuses.get("429", 0),
                "faults": dict(self._faults),
                "callbacks": dict(self._callbacks),
                "max_requests_per_60s": dict(self._max_window),
            }
