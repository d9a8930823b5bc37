"""Faults on demand: the ways real providers misbehave, one switch each.

A client that survives the sandbox with these switched on survives the
providers: 5xx bursts, 429s, slow answers, answers that are not JSON, requests
that never come back, and callbacks that are lost, doubled or out of order.
Draws come from their own seeded random source, so switching faults on does
not change which orders get cancelled.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

_PROBABILITIES = (
    "drop_callbacks",
    "duplicate_callbacks",
    "fail_rate",
    "garbage_rate",
    "throttle_rate",
    "timeout_rate",
)


@dataclass(frozen=True)
class Faults:
    """Which faults are on. Probabilities are per request (or per callback).

    A request hit by ``fail_rate`` or ``timeout_rate`` is not carried out; one
    hit by ``garbage_rate`` is, and only its answer is spoiled, so a placed
    order exists although the client could not read its reference, the case
    that makes duplicate orders in production. ``throttle_rate`` answers 429
    with ``Retry-After: 1`` whatever the budget says.

    ``rate_limit`` is counted by the arrival meter (:mod:`.meter`) over
    ``rate_window`` seconds of the ``rate_clock`` ("simulated" or "real").
    """

    drop_callbacks: float = 0.0
    duplicate_callbacks: float = 0.0
    reorder_callbacks: bool = False
    reorder_max_delay: float = 1.0  # real seconds of extra delay per callback
    fail_rate: float = 0.0
    rate_limit: int | None = None  # requests per rate_window per key
    rate_window: float = 60.0
    rate_clock: str = "simulated"
    throttle_rate: float = 0.0
    latency_ms: float = 0.0
    garbage_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 30.0
    seed: int | None = None
    #: Couriers (as named in booking answers, e.g. "Aramex") whose manifest fails on POST /book.
    failing_manifests: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        couriers = self.failing_manifests
        if isinstance(couriers, str) or not all(isinstance(c, str) for c in couriers):
            raise ValueError("failing_manifests must be a list of courier names")
        object.__setattr__(self, "failing_manifests", tuple(couriers))
        for name in _PROBABILITIES:
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        if self.rate_limit is not None and self.rate_limit < 0:
            raise ValueError("rate_limit must be >= 0 (0 or None: unlimited)")
        for name in ("latency_ms", "timeout_seconds", "reorder_max_delay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.rate_window <= 0:
            raise ValueError("rate_window must be > 0")
        if self.rate_clock not in ("simulated", "real"):
            raise ValueError("rate_clock must be 'simulated' or 'real'")

    def with_changes(self, **changes: Any) -> Faults:
        """A copy with ``changes`` applied; unknown names are an error, not ignored."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(unknown)}")
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the control API."""
        return asdict(self)


class FaultInjector:
    """Draws the faults for each request and callback."""

    def __init__(self, seed: int | None = None) -> None:
        # Requests and callbacks draw from separate sources: the dispatcher
        # thread's timing then cannot change which request fails.
        self._rng = random.Random()
        self._callback_rng = random.Random()
        self._lock = threading.Lock()
        self.reseed(seed)

    def reseed(self, seed: int | None) -> None:
        """Restart the fault draws from ``seed``."""
        with self._lock:
            self._rng.seed(seed)
            self._callback_rng.seed(None if seed is None else f"{seed}-callbacks")

    def request_fault(self, faults: Faults) -> str | None:
        """``"timeout"``, ``"throttle"``, ``"fail"``, ``"garbage"`` or None for one API request."""
        rates = (faults.timeout_rate, faults.throttle_rate, faults.fail_rate, faults.garbage_rate)
        if not any(rates):
            return None
        with self._lock:
            rng = self._rng
            if faults.timeout_rate and rng.random() < faults.timeout_rate:
                return "timeout"
            if faults.throttle_rate and rng.random() < faults.throttle_rate:
                return "throttle"
            if faults.fail_rate and rng.random() < faults.fail_rate:
                return "fail"
            if faults.garbage_rate and rng.random() < faults.garbage_rate:
                return "garbage"
        return None

    def fail_status(self) -> int:
        """500 or 503, half and half."""
        with self._lock:
            return 503 if self._rng.random() < 0.5 else 500

    def garbage(self, body: bytes) -> bytes:
        """A body that claims to be JSON and is not."""
        with self._lock:
            kind = self._rng.randrange(3)
        if kind == 0 and len(body) > 2:
            return body[: max(1, len(body) // 2)]
        if kind == 1:
            return b"<html><head><title>502 Bad Gateway</title></head><body>upstream</body>"
        return b'{"response": {"tracking_number": "PP\x00'

    def callback_delays(self, faults: Faults) -> list[float]:
        """Real-time delays of each delivery of one callback: [] dropped, two entries doubled."""
        with self._lock:
            rng = self._callback_rng
            if faults.drop_callbacks and rng.random() < faults.drop_callbacks:
                return []
            copies = (
                2 if faults.duplicate_callbacks and rng.random() < faults.duplicate_callbacks else 1
            )
            if faults.reorder_callbacks:
                return [rng.uniform(0, faults.reorder_max_delay) for _ in range(copies)]
            return [0.0] * copies
