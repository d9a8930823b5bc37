"""How many provider requests each account made in the last hour, for the status command.

The rate limiter keeps only one window (a minute for Shippit); an operator
wants the last hour against the hourly budget. Each request the limiter
admits is also added to a per-minute counter in the same cache (one ``incr``),
kept a little over an hour, so every process's requests are counted together.
"""

from __future__ import annotations

import math
import time
from contextlib import suppress
from typing import Any

KEY_PREFIX = "shipping_orders:usage"
#: Minutes summed by :func:`last_hour`.
MINUTES = 60
_TTL = (MINUTES + 5) * 60


def _key(alias: str, minute: int) -> str:
    return f"{KEY_PREFIX}:{alias}:{minute}"


def record(cache: Any, alias: str, count: int = 1, *, now: float | None = None) -> None:
    """Add ``count`` requests of account ``alias`` to the current minute (never raises)."""
    if count < 1:
        return
    key = _key(alias, math.floor((time.time() if now is None else now) / 60))
    with suppress(Exception):  # a figure for operators must never fail a request
        try:
            cache.incr(key, count)  # one round trip, except in a minute's first request
        except ValueError:  # not there yet (or evicted)
            if not cache.add(key, count, timeout=_TTL):
                cache.incr(key, count)  # another process made it meanwhile


def last_hour(cache: Any, alias: str, *, now: float | None = None) -> int:
    """Requests of account ``alias`` admitted in the last 60 minutes (this one included)."""
    minute = math.floor((time.time() if now is None else now) / 60)
    keys = [_key(alias, minute - back) for back in range(MINUTES)]
    return sum(int(value or 0) for value in cache.get_many(keys).values())
