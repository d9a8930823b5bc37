"""The per-account rate limit, shared by every thread, process and machine through Django's cache.

A provider counts requests per API key over a rolling window (Shippit: 60 per
60 s). Every worker of every ``qcluster`` and every run of the command spends
the same budget, so the count lives in the cache named by
``SHIPPING_ORDERS["RATE_LIMIT_CACHE"]``: Redis (or Memcached) when several
processes refresh, local memory when one process does.

How it counts: the window is cut into ``SLICES`` sub-windows, one cache key
each, created with ``cache.add`` and counted with the atomic ``cache.incr``. A
request is admitted when the last ``SLICES + 1`` sub-windows (a little more
than one window) hold no more than the limit, counting itself. Any window of
the limit's length lies inside ``SLICES + 1`` consecutive sub-windows, so no
window ever sees more than ``RATE_LIMIT`` requests, whichever processes sent
them; the price is a budget about 1/SLICES smaller than the provider allows.
The increment comes first and the check second, so two processes racing for
the last slot can both be refused but never both admitted; a refused request
gives its slot back. An increment that lands after its sub-window ended (a
slow worker at a boundary) is refused too, so that the check of the next
sub-window cannot have missed it.

A 429 means someone else spends the same key (another app, a person with
curl) or clocks disagree: the account pauses for the ``Retry-After`` (or a
tenth of the window) and runs at half its limit for one window.

The clock is ``time.time()``: every machine must keep it in sync (NTP), and a
frozen or travelling clock in tests moves the limiter with it.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from .client import Throttle
from .conf import AccountSettings, RateLimit, shipping_settings
from .exceptions import RateLimited

#: Sub-windows per window: a larger number wastes less budget and reads more keys.
SLICES = 20
KEY_PREFIX = "shipping_orders:ratelimit"
#: Longest a request waits for the budget inside the HTTP client (seconds).
DEFAULT_MAX_WAIT = 60.0

_local = threading.local()


class RateLimiter:
    """Admits requests per account: ``try_acquire`` never blocks, ``acquire`` waits (bounded)."""

    def __init__(
        self,
        cache_alias: str | None = None,
        *,
        slices: int = SLICES,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._cache_alias = cache_alias
        self.slices = slices
        self._clock = clock
        self._sleep = sleep

    # -- public -------------------------------------------------------------------------

    def try_acquire(self, account: AccountSettings) -> bool:
        """Take one request from ``account``'s budget now; False (and nothing taken) if spent."""
        return self._try(account, self._clock(), 1) == 1

    def try_acquire_many(self, account: AccountSettings, count: int) -> int:
        """Take up to ``count`` requests at once (one round trip); returns how many were granted."""
        if count < 1:
            return 0
        return self._try(account, self._clock(), count)

    def acquire(self, account: AccountSettings, *, timeout: float | None = None) -> bool:
        """Take one request, sleeping for the budget; False if ``timeout`` seconds pass first.

        The deadline is measured on the monotonic clock, so a test that
        freezes wall time cannot make a waiting worker hang for ever.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            now = self._clock()
            if self._try(account, now, 1):
                return True
            pause = self.wait_time(account, now=now)
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                pause = min(pause, left)
            self._sleep(pause)

    def wait_time(self, account: AccountSettings, *, now: float | None = None) -> float:
        """Seconds until the budget of ``account`` is likely to admit a request again."""
        now = self._clock() if now is None else now
        rate = account.rate_limit
        width = rate.seconds / self.slices
        penalty = self._cache.get(self._penalty_key(account))
        if penalty is not None and float(penalty) > now:
            return max(0.01, float(penalty) - now)
        # The oldest sub-window leaves the count at the next boundary; a little
        # jitter keeps the workers of many machines from waking together.
        to_boundary = width - (now % width)
        return max(0.01, to_boundary) + random.uniform(0, width / 10)

    def available(self, account: AccountSettings) -> int:
        """Requests ``account`` may send right now (a snapshot: others may take them first)."""
        now = self._clock()
        counts, penalty, slowed = self._read(account, now, include_current=True)
        if penalty is not None and float(penalty) > now:
            return 0
        return max(0, self._limit(account.rate_limit, slowed) - sum(counts))

    def penalize(self, account: AccountSettings, retry_after: float | None = None) -> None:
        """The provider answered 429: pause ``account`` and halve its rate for one window."""
        rate = account.rate_limit
        now = self._clock()
        pause = retry_after if retry_after is not None else rate.seconds / 10
        pause = max(0.0, float(pause))
        if pause:
            self._cache.set(self._penalty_key(account), now + pause, timeout=math.ceil(pause) + 1)
        slow_until = now + pause + rate.seconds
        self._cache.set(
            self._slow_key(account), slow_until, timeout=math.ceil(pause + rate.seconds)
        )

    def reset(self, account: AccountSettings) -> None:
        """Forget every count and penalty of ``account`` (tests, or after changing the key)."""
        now = self._clock()
        keys = self._slice_keys(account, now, include_current=True)
        self._cache.delete_many([*keys, self._penalty_key(account), self._slow_key(account)])

    # -- internals ----------------------------------------------------------------------

    @property
    def _cache(self) -> Any:
        from django.core.cache import caches

        return caches[self._cache_alias or shipping_settings.rate_limit_cache]

    def _limit(self, rate: RateLimit, slowed: bool) -> int:
        return max(1, rate.requests // 2) if slowed else rate.requests

    def _index(self, rate: RateLimit, now: float) -> int:
        return math.floor(now / (rate.seconds / self.slices))

    def _slice_keys(
        self, account: AccountSettings, now: float, *, include_current: bool
    ) -> list[str]:
        rate = account.rate_limit
        current = self._index(rate, now)
        first = 0 if include_current else 1
        # The rate is part of the key: changing RATE_LIMIT starts a fresh count
        # instead of reading sub-windows of another width.
        return [
            f"{KEY_PREFIX}:{account.alias}:{rate.requests}/{rate.seconds:g}:{current - back}"
            for back in range(first, self.slices + 1)
        ]

    def _penalty_key(self, account: AccountSettings) -> str:
        return f"{KEY_PREFIX}:{account.alias}:penalty"

    def _slow_key(self, account: AccountSettings) -> str:
        return f"{KEY_PREFIX}:{account.alias}:slow"

    def _read(
        self, account: AccountSettings, now: float, *, include_current: bool
    ) -> tuple[list[int], Any, bool]:
        keys = self._slice_keys(account, now, include_current=include_current)
        penalty_key, slow_key = self._penalty_key(account), self._slow_key(account)
        values = self._cache.get_many([*keys, penalty_key, slow_key])
        counts = [int(values.get(key) or 0) for key in keys]
        slow_until = values.get(slow_key)
        return counts, values.get(penalty_key), slow_until is not None and float(slow_until) > now

    def _try(self, account: AccountSettings, now: float, count: int) -> int:
        rate = account.rate_limit
        counts, penalty, slowed = self._read(account, now, include_current=True)
        if penalty is not None and float(penalty) > now:
            return 0
        limit = self._limit(rate, slowed)
        want = min(count, limit - sum(counts))
        if want <= 0:
            return 0  # spent: refuse without touching the counters
        cache = self._cache
        key = self._slice_keys(account, now, include_current=True)[0]
        # Kept a little longer than the window it is read in.
        ttl = math.ceil(rate.seconds * (1 + 2 / self.slices)) + 1
        cache.add(key, 0, timeout=ttl)
        try:
            mine = cache.incr(key, want)
        except ValueError:  # evicted between add and incr: count it afresh
            cache.add(key, want, timeout=ttl)
            mine = int(cache.get(key) or want)
        # An increment that lands after its sub-window ended could be missed by
        # a request of the next sub-window: refuse it (rare, and always safe).
        crossed = self._index(rate, self._clock()) != self._index(rate, now)
        others, _, _ = self._read(account, now, include_current=False)
        excess = want if crossed else min(want, max(0, mine + sum(others) - limit))
        if excess:
            with suppress(ValueError):
                cache.decr(key, excess)
        return want - excess


class SharedThrottle(Throttle):
    """The client's throttle: every request of every provider client spends the shared budget.

    A request for which the refresh engine already took a slot (see
    :func:`prepaid`) does not take a second one; retries always do.
    """

    def __init__(
        self, limiter: RateLimiter | None = None, *, max_wait: float = DEFAULT_MAX_WAIT
    ) -> None:
        self.limiter = limiter or RateLimiter()
        self.max_wait = max_wait

    def wait(self, account: AccountSettings) -> None:
        paid = getattr(_local, "prepaid", None)
        if paid and paid.get(account.alias, 0) > 0:
            paid[account.alias] -= 1
            return
        if not self.limiter.acquire(account, timeout=self.max_wait):
            raise RateLimited(
                f"The rate limit of account {account.alias!r} ({account.rate_limit}) "
                f"left no room for a request within {self.max_wait:g} s.",
                account=account.alias,
            )

    def penalize(self, account: AccountSettings, retry_after: float | None) -> None:
        self.limiter.penalize(account, retry_after)


@contextmanager
def prepaid(alias: str) -> Iterator[None]:
    """The next request of this thread for ``alias`` was already admitted by the caller."""
    paid = getattr(_local, "prepaid", None)
    if paid is None:
        paid = _local.prepaid = {}
    paid[alias] = paid.get(alias, 0) + 1
    try:
        yield
    finally:
        paid[alias] = 0


_default_limiter: RateLimiter | None = None
_default_lock = threading.Lock()


def default_limiter() -> RateLimiter:
    """The limiter every provider client and the refresh engine share in this process."""
    global _default_limiter
    with _default_lock:
        if _default_limiter is None:
            _default_limiter = RateLimiter()
        return _default_limiter


def shared_throttle() -> SharedThrottle:
    """A throttle spending the shared budget (installed on every provider client)."""
    return SharedThrottle(default_limiter())
