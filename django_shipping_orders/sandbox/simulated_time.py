"""Simulated time for the sandbox, and how it is written on the wire.

Tests and demos need days of an order's life to pass in seconds, and
benchmarks need it not to move at all; both are a speed and an offset on top
of the real monotonic clock.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

#: Providers' local time. A fixed offset is enough for the sandbox.
SYDNEY = timezone(timedelta(hours=11))


def iso(t: float | None) -> str | None:
    """Simulated epoch seconds as ISO 8601 with the providers' +11:00 offset."""
    if t is None:
        return None
    return datetime.fromtimestamp(t, SYDNEY).isoformat(timespec="seconds")


def utc_iso(t: float) -> str:
    """Epoch seconds in the ``2016-04-26T19:36:32.000Z`` form of Shippit's webhook."""
    stamp = datetime.fromtimestamp(t, timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


class Clock:
    """Simulated time: ``start + real elapsed * speed + manual offset``.

    Speed and offset change without jumps backwards, so every reader sees
    time that never decreases.
    """

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self._lock = threading.Lock()
        # One tuple, replaced whole, so now() needs no lock.
        self._base = (time.monotonic(), time.time() if start is None else float(start), speed)

    def now(self) -> float:
        """The current simulated time, epoch seconds."""
        real0, sim0, speed = self._base
        return sim0 + (time.monotonic() - real0) * speed

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return self._base[2]

    @speed.setter
    def speed(self, value: float) -> None:
        if value < 0:
            raise ValueError("speed must be >= 0")
        with self._lock:
            self._base = (time.monotonic(), self.now(), float(value))

    def advance(self, seconds: float) -> float:
        """Jump ``seconds`` forward; returns the new simulated time."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            real0, sim0, speed = self._base
            self._base = (real0, sim0 + seconds, speed)
        return self.now()

    def real_seconds(self, sim_seconds: float) -> float:
        """How long ``sim_seconds`` of simulated time take in real time (inf when frozen)."""
        speed = self.speed
        return float("inf") if speed == 0 else sim_seconds / speed
