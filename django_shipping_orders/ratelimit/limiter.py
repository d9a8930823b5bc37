"""The limiter: a slot of an account's budget for each request, at the moment it is sent.

See the package docstring for what is counted where.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.cache import caches

from .. import usage
from ..conf import AccountSettings, RateLimit, shipping_settings
from ..exceptions import RateBudgetExhausted
from ..redaction import get_logger
from .base import Store, new_token
from .stores import LOCK_TIMEOUT, LockBusy, lock_deadline, store_for

KEY_PREFIX = "shipping_orders:ratelimit"
logger = get_logger("django_shipping_orders.ratelimit")
#: A waiting request looks again at least this often (seconds): entries in flight may
#: finish, and so free their slot, earlier than the log can tell.
MAX_POLL = 1.0
#: Least time any call may queue for the lock of a shared (non-Redis) log, in seconds.
LOCK_GRACE = 0.25


@dataclass
class Ticket:
    """One admitted request; call :meth:`finish` once its answer (or failure) came back."""

    store: Store
    key: str
    token: str
    done: bool = False
    #: The budget's window (seconds): how much longer a request that timed out counts.
    window: float = 0.0

    def finish(self, *, timed_out: bool = False) -> None:
        """Stamp the request with the moment it ended (idempotent).

        A request that timed out may still reach a stalled provider later, and
        be counted there: it keeps its slot for one more window.
        """
        if not self.done:
            self.done = True
            try:
                self.store.finish(self.key, self.token, self.window if timed_out else 0.0)
            except LockBusy:
                # Left in flight: it counts until its give-up time and a window, the safe side.
                logger.warning(
                    "Rate limit lock busy; request %s left counted in flight", self.token
                )


class RateLimiter:
    """Admits requests per account at the moment they are sent; see the module docstring."""

    def __init__(
        self,
        cache_alias: str | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._cache_alias = cache_alias
        self._clock = clock
        self._sleep = sleep

    # -- public -------------------------------------------------------------------------

    def acquire(
        self, account: AccountSettings, *, wait: float | None = 0.0, share: float = 1.0
    ) -> Ticket:
        """A slot for one request of ``account``, sent right after this returns.

        Waits at most ``wait`` seconds (``None``: as long as it takes; ``0``:
        one look) and raises :class:`RateBudgetExhausted` when no slot frees
        within it. The deadline is measured on the monotonic clock, so a test
        that freezes wall time cannot make a waiting worker hang for ever.

        ``share`` (0 to 1): the request is admitted only while fewer than
        ``floor(share * limit)`` requests are counted in the window, so the
        rest stays for requests without a share. The check and the slot are
        one atomic step of the store, as for every request.
        """
        rate = _rate(account)
        ceiling = rate.requests if share >= 1 else math.floor(rate.requests * max(0.0, share))
        if ceiling <= 0:
            raise RateBudgetExhausted(
                f"The rate limit of account {account.alias!r} ({rate}) leaves no room for "
                f"requests limited to {share:g} of it; nothing was sent.",
                account=account.alias,
                retry_after=float(rate.seconds),
            )
        store, key = self._store(), budget_key(account)
        flight = float(account.connect_timeout + account.timeout)
        deadline = None if wait is None else time.monotonic() + max(0.0, wait)
        while True:
            token = new_token()
            try:
                # Even "one look" may queue briefly for the lock that other workers hold.
                lock_by = None if deadline is None else max(deadline, time.monotonic() + LOCK_GRACE)
                with lock_deadline(lock_by):
                    decision = store.take(key, ceiling, rate.seconds, flight, token)
            except LockBusy:
                if deadline is None:
                    continue  # no budget: wait for the lock as long as it takes
                raise RateBudgetExhausted(
                    f"The rate limit of account {account.alias!r} could not be checked within "
                    f"{wait:g} s (its cache lock stayed taken); nothing was sent.",
                    account=account.alias,
                    retry_after=float(LOCK_TIMEOUT),
                ) from None
            if decision.admitted:
                # The last hour's requests, for shipping_orders_status (one cache incr).
                usage.record(self._cache(), account.alias, now=self._clock())
                return Ticket(store, key, token, window=float(rate.seconds))
            pause = max(0.01, decision.wait)
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or pause > left + MAX_POLL:
                    # Sleeping out the budget would only end in a refusal.
                    raise RateBudgetExhausted(
                        f"The rate limit of account {account.alias!r} ({rate}) left no room for "
                        f"a request within {wait:g} s; nothing was sent.",
                        account=account.alias,
                        retry_after=round(pause, 3),
                    )
                pause = min(pause, left)
            # A little jitter keeps the workers of many machines from waking together.
            self._sleep(min(pause, MAX_POLL) * random.uniform(1.0, 1.1))

    def available(self, account: AccountSettings) -> int:
        """Requests ``account`` may send right now (a snapshot: others may take them first)."""
        rate = _rate(account)
        count, paused, slowed = self._store().count(budget_key(account), rate.seconds)
        if paused:
            return 0
        return max(0, _limit(rate, slowed) - count)

    def penalize(self, account: AccountSettings, retry_after: float | None = None) -> None:
        """The provider answered 429: pause ``account`` and halve its rate for one window."""
        rate = _rate(account)
        pause = retry_after if retry_after is not None else rate.seconds / 10
        # Bounded here too (not only where Retry-After is parsed): an infinite or
        # huge pause would block the budget for ever, or break the store's TTL.
        pause = float(pause)
        if not math.isfinite(pause):
            pause = shipping_settings.retry_after_max if pause > 0 else 0.0
        pause = min(max(0.0, pause), shipping_settings.retry_after_max)
        try:
            self._store().penalize(budget_key(account), pause, pause + rate.seconds, rate.seconds)
        except LockBusy:
            # The 429 itself is still raised or waited out by the caller; only the slow-down is lost.
            logger.warning(
                "Rate limit lock busy; the 429 penalty of %r was not stored", account.alias
            )

    def reset(self, account: AccountSettings) -> None:
        """Forget every count and penalty of ``account`` (tests, or after changing the key)."""
        self._store().reset(budget_key(account))

    # -- internals ----------------------------------------------------------------------

    def _store(self) -> Store:
        return store_for(self._cache_alias or shipping_settings.rate_limit_cache, self._clock)

    def _cache(self) -> Any:
        return caches[self._cache_alias or shipping_settings.rate_limit_cache]


def _limit(rate: RateLimit, slowed: bool) -> int:
    return max(1, rate.requests // 2) if slowed else rate.requests


def budget_key(account: AccountSettings) -> str:
    """The budget's name: per API key (hashed, never the key itself), else per alias."""
    return _budget_key(account.api_key, account.alias)


@functools.lru_cache(maxsize=256)
def _budget_key(api_key: str, alias: str) -> str:
    if api_key:
        digest = hashlib.sha256(api_key.encode()).hexdigest()[:20]
        return f"{KEY_PREFIX}:{{{digest}}}"
    return f"{KEY_PREFIX}:{{alias-{alias}}}"


def _rate(account: AccountSettings) -> RateLimit:
    try:
        return _parse_rate(account.rate_limit_text)
    except ValueError:
        return account.rate_limit  # raises the configuration error naming the key


@functools.lru_cache(maxsize=256)
def _parse_rate(text: str) -> RateLimit:
    return RateLimit.parse(text)


_default_limiter: RateLimiter | None = None
_default_lock = threading.Lock()


def default_limiter() -> RateLimiter:
    """The limiter every provider client of this process is built with."""
    global _default_limiter
    with _default_lock:
        if _default_limiter is None:
            _default_limiter = RateLimiter()
        return _default_limiter
