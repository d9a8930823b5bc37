"""The per-account rate limit, counted when a request is sent, shared by every process through a cache.

A provider counts the requests of an API key as they arrive, over a sliding
window (Shippit: 60 in any 60 s). So the limiter counts each request at the
moment the HTTP client sends it, never ahead of a wait: a slot is taken
immediately before the request goes on the wire and only if the last window
holds fewer than ``RATE_LIMIT`` requests.

How it counts: a sliding log, one entry per request. The entry is written
when the request is sent, stamped "in flight" while it travels, and stamped
again with the moment its answer came back (:meth:`Ticket.finish`). A
provider saw the request somewhere between the two, so an entry counts until
one window after its answer: whatever the network delay, no window of the
provider can hold more requests than ours admitted (the proof is in
docs/scaling.md). An entry whose process died in flight expires one window
after ``CONNECT_TIMEOUT + TIMEOUT``.

Where it counts: in the cache named by ``SHIPPING_ORDERS["RATE_LIMIT_CACHE"]``,
one log per API key (two aliases with the same key share one budget, as they
do at the provider):

- Redis (Django's ``RedisCache`` or django-redis): the log is a sorted set
  changed by one Lua script, atomic, and timed by the Redis server's clock, so
  machines whose clocks disagree still agree on the window;
- any other cache: the log is one cache value changed under a lock (``add``
  is the lock: atomic on Memcached and on the database cache), timed by the
  wall clock of each machine (keep them in sync with NTP);
- local memory: the same, with a lock of this process; it counts for this
  process only, which the system check refuses unless ``SINGLE_PROCESS``.

A 429 means someone else spends the same key (another app, a person with
curl) or the provider counts differently: the account pauses for the
``Retry-After`` (or a tenth of the window) and runs at half its limit for
one window, everywhere.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
import time
import uuid
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from django.core.signals import setting_changed
from django.dispatch import receiver

from .conf import AccountSettings, RateLimit, shipping_settings
from .exceptions import RateBudgetExhausted

KEY_PREFIX = "shipping_orders:ratelimit"
#: A waiting request looks again at least this often (seconds): entries in flight may
#: finish, and so free their slot, earlier than the log can tell.
MAX_POLL = 1.0
#: Longest a process holds the lock of a shared (non-Redis) log, in seconds.
LOCK_TIMEOUT = 5


@dataclass(frozen=True)
class Decision:
    """What the log said: admitted, or how long until a slot is likely to free."""

    admitted: bool
    wait: float = 0.0


class Store(Protocol):
    """Where the logs live; every method is atomic across the processes sharing it."""

    def take(self, key: str, limit: int, window: float, flight: float, token: str) -> Decision:
        """Add ``token`` to the log if it holds fewer than ``limit`` live entries."""

    def finish(self, key: str, token: str) -> None:
        """The request of ``token`` was answered: it counts for one window from now."""

    def count(self, key: str, window: float) -> tuple[int, bool, bool]:
        """Live entries, whether the key is paused, whether it runs at half its limit."""

    def penalize(self, key: str, pause: float, slow_for: float, window: float) -> None:
        """Pause the key for ``pause`` seconds and halve its limit for ``slow_for``."""

    def reset(self, key: str) -> None:
        """Forget the log and the penalties of the key."""


@dataclass
class Ticket:
    """One admitted request; call :meth:`finish` once its answer (or failure) came back."""

    store: Store
    key: str
    token: str
    done: bool = False

    def finish(self) -> None:
        """Stamp the request with the moment it ended (idempotent)."""
        if not self.done:
            self.done = True
            self.store.finish(self.key, self.token)


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

    def acquire(self, account: AccountSettings, *, wait: float | None = 0.0) -> Ticket:
        """A slot for one request of ``account``, sent right after this returns.

        Waits at most ``wait`` seconds (``None``: as long as it takes; ``0``:
        one look) and raises :class:`RateBudgetExhausted` when no slot frees
        within it. The deadline is measured on the monotonic clock, so a test
        that freezes wall time cannot make a waiting worker hang for ever.
        """
        rate = account.rate_limit
        store, key = self._store(), budget_key(account)
        flight = float(account.connect_timeout + account.timeout)
        deadline = None if wait is None else time.monotonic() + max(0.0, wait)
        while True:
            token = uuid.uuid4().hex
            decision = store.take(key, rate.requests, rate.seconds, flight, token)
            if decision.admitted:
                return Ticket(store, key, token)
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
        rate = account.rate_limit
        count, paused, slowed = self._store().count(budget_key(account), rate.seconds)
        if paused:
            return 0
        return max(0, _limit(rate, slowed) - count)

    def penalize(self, account: AccountSettings, retry_after: float | None = None) -> None:
        """The provider answered 429: pause ``account`` and halve its rate for one window."""
        rate = account.rate_limit
        pause = retry_after if retry_after is not None else rate.seconds / 10
        pause = max(0.0, float(pause))
        self._store().penalize(budget_key(account), pause, pause + rate.seconds, rate.seconds)

    def reset(self, account: AccountSettings) -> None:
        """Forget every count and penalty of ``account`` (tests, or after changing the key)."""
        self._store().reset(budget_key(account))

    # -- internals ----------------------------------------------------------------------

    def _store(self) -> Store:
        return store_for(self._cache_alias or shipping_settings.rate_limit_cache, self._clock)


def _limit(rate: RateLimit, slowed: bool) -> int:
    return max(1, rate.requests // 2) if slowed else rate.requests


def budget_key(account: AccountSettings) -> str:
    """The budget's name: per API key (hashed, never the key itself), else per alias."""
    if account.api_key:
        digest = hashlib.sha256(account.api_key.encode()).hexdigest()[:20]
        return f"{KEY_PREFIX}:{{{digest}}}"
    return f"{KEY_PREFIX}:{{alias-{account.alias}}}"


# -- Redis: one Lua script per operation, on the server's clock ----------------------------

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# KEYS: log, state. ARGV: limit, window, flight, token.
_TAKE = (
    _NOW
    + """
local limit, window, flight = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local pause = tonumber(redis.call('HGET', KEYS[2], 'pause') or '0')
if pause > now then return {0, tostring(pause - now)} end
local slow = tonumber(redis.call('HGET', KEYS[2], 'slow') or '0')
if slow > now then limit = math.max(1, math.floor(limit / 2)) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n < limit then
  redis.call('ZADD', KEYS[1], now + flight, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil((window + flight) * 1000) + 1000)
  return {1, '0'}
end
local frees = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
return {0, tostring(tonumber(frees[2]) + window - now)}
"""
)
# KEYS: log. ARGV: token.
_FINISH = _NOW + "redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])\nreturn 1\n"
# KEYS: log, state. ARGV: window.
_COUNT = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
local pause = tonumber(redis.call('HGET', KEYS[2], 'pause') or '0')
local slow = tonumber(redis.call('HGET', KEYS[2], 'slow') or '0')
return {redis.call('ZCARD', KEYS[1]), pause > now and 1 or 0, slow > now and 1 or 0}
"""
)
# KEYS: state. ARGV: pause, slow_for.
_PENALIZE = (
    _NOW
    + """
local pause, slow_for = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'pause', tostring(now + pause), 'slow', tostring(now + slow_for))
redis.call('PEXPIRE', KEYS[1], math.ceil(slow_for * 1000) + 1000)
return 1
"""
)


class RedisStore:
    """Logs as Redis sorted sets (member: token, score: when the entry stops counting - window)."""

    def __init__(self, client: Any, make_key: Callable[[str], str]) -> None:
        self._make_key = make_key
        self._take = client.register_script(_TAKE)
        self._finish = client.register_script(_FINISH)
        self._count = client.register_script(_COUNT)
        self._penalize = client.register_script(_PENALIZE)
        self._client = client

    def _keys(self, key: str) -> tuple[str, str]:
        return self._make_key(key + ":log"), self._make_key(key + ":state")

    def take(self, key: str, limit: int, window: float, flight: float, token: str) -> Decision:
        admitted, wait = self._take(keys=self._keys(key), args=[limit, window, flight, token])
        return Decision(bool(int(admitted)), float(wait))

    def finish(self, key: str, token: str) -> None:
        self._finish(keys=[self._keys(key)[0]], args=[token])

    def count(self, key: str, window: float) -> tuple[int, bool, bool]:
        count, paused, slowed = self._count(keys=self._keys(key), args=[window])
        return int(count), bool(int(paused)), bool(int(slowed))

    def penalize(self, key: str, pause: float, slow_for: float, window: float) -> None:
        self._penalize(keys=[self._keys(key)[1]], args=[pause, slow_for])

    def reset(self, key: str) -> None:
        self._client.delete(*self._keys(key))


# -- any other cache: one value per key, changed under a lock -------------------------------


class LockedStore:
    """Logs as cache values: ``{"done": stamps of answered requests, "flight": token -> stamp}``.

    Answered requests count until ``stamp + window``; requests in flight until
    they are answered (or ``stamp``, their give-up time, plus the window).
    """

    def __init__(self, alias: str, clock: Callable[[], float], *, shared: bool) -> None:
        self._alias = alias
        self._clock = clock
        self._shared = shared  # False for local memory: the thread lock is enough
        self._lock = threading.Lock()

    @property
    def _cache(self) -> Any:
        from django.core.cache import caches

        # Django hands each thread a cache object of its own: look it up each time.
        return caches[self._alias]

    def take(self, key: str, limit: int, window: float, flight: float, token: str) -> Decision:
        with self._locked(key) as cache:
            now = self._clock()
            log = _read(cache, key, now, window)
            if log["pause"] > now:
                return Decision(False, log["pause"] - now)
            if log["slow"] > now:
                limit = max(1, limit // 2)
            count = len(log["done"]) + len(log["flight"])
            if count >= limit:
                ends = sorted([*log["done"], *log["flight"].values()])
                return Decision(False, ends[count - limit] + window - now)
            log["flight"][token] = now + flight
            _write(cache, key, log, window + flight)
            return Decision(True)

    def finish(self, key: str, token: str) -> None:
        with self._locked(key) as cache:
            now = self._clock()
            log = _read(cache, key, now, math.inf)
            if log["flight"].pop(token, None) is None:
                return
            log["done"].append(now)
            _write(cache, key, log, math.inf)

    def count(self, key: str, window: float) -> tuple[int, bool, bool]:
        now = self._clock()
        log = _read(self._cache, key, now, window)
        return len(log["done"]) + len(log["flight"]), log["pause"] > now, log["slow"] > now

    def penalize(self, key: str, pause: float, slow_for: float, window: float) -> None:
        with self._locked(key) as cache:
            now = self._clock()
            log = _read(cache, key, now, window)
            log["pause"], log["slow"] = now + pause, now + slow_for
            _write(cache, key, log, slow_for + window)

    def reset(self, key: str) -> None:
        with self._locked(key) as cache:
            cache.delete(key)

    def _locked(self, key: str) -> _Lock:
        return _Lock(self._cache, key + ":lock", self._lock, shared=self._shared)


def _read(cache: Any, key: str, now: float, window: float) -> dict[str, Any]:
    log = cache.get(key)
    if not isinstance(log, dict):
        log = {"done": array("d"), "flight": {}, "pause": 0.0, "slow": 0.0, "keep": 0.0}
    if window != math.inf:
        # Answered requests are appended in (nearly) time order: drop from the front.
        done: array[float] = log["done"]
        cut = 0
        while cut < len(done) and done[cut] <= now - window:
            cut += 1
        if cut:
            del done[:cut]
        log["flight"] = {t: end for t, end in log["flight"].items() if end > now - window}
    return log


def _write(cache: Any, key: str, log: dict[str, Any], keep: float) -> None:
    if keep != math.inf:
        log["keep"] = max(log["keep"], keep)
    # Kept a little longer than anything in it counts (and a penalty lasts).
    cache.set(key, log, timeout=math.ceil(log["keep"] * 2) + 5)


class _Lock:
    """The thread lock, then (for a shared cache) a lock taken with the atomic ``cache.add``."""

    def __init__(self, cache: Any, key: str, local: threading.Lock, *, shared: bool) -> None:
        self._cache, self._key, self._local, self._shared = cache, key, local, shared
        self._token = ""

    def __enter__(self) -> Any:
        self._local.acquire()
        if not self._shared:
            return self._cache
        self._token = uuid.uuid4().hex
        deadline = time.monotonic() + LOCK_TIMEOUT * 2
        delay = 0.001
        while not self._cache.add(self._key, self._token, timeout=LOCK_TIMEOUT):
            if time.monotonic() > deadline:
                self._local.release()
                raise TimeoutError("the lock of the rate limit cache stayed taken")
            time.sleep(delay)
            delay = min(0.05, delay * 2)
        return self._cache

    def __exit__(self, *exc: object) -> None:
        try:
            if self._shared and self._cache.get(self._key) == self._token:
                self._cache.delete(self._key)
        finally:
            self._local.release()


# -- choosing the store of a cache ---------------------------------------------------------

#: Backends that keep their data in the process: a budget there is this process's only.
LOCAL_CACHES = frozenset({"django.core.cache.backends.locmem.LocMemCache"})
_stores: dict[tuple[str, int], Store] = {}
_stores_lock = threading.Lock()


def backend_path(cache: Any) -> str:
    """The dotted path of a cache object's class."""
    return f"{type(cache).__module__}.{type(cache).__qualname__}"


def redis_client(cache: Any) -> Any:
    """The redis-py client behind a Django cache, or None if it is not a Redis cache."""
    module = type(cache).__module__
    if module.startswith("django.core.cache.backends.redis"):
        return cache._cache.get_client(write=True)
    if module.startswith("django_redis"):
        return cache.client.get_client(write=True)
    return None


def store_for(alias: str, clock: Callable[[], float] = time.time) -> Store:
    """The store of cache ``alias``: Redis if it is one (and the clock is the real one)."""
    ident = (alias, id(clock))
    store = _stores.get(ident)
    if store is None:
        from django.core.cache import caches

        with _stores_lock:
            store = _stores.get(ident)
            if store is None:
                cache = caches[alias]
                client = redis_client(cache) if clock is time.time else None
                if client is not None:
                    store = RedisStore(client, cache.make_key)
                else:
                    shared = backend_path(cache) not in LOCAL_CACHES
                    store = LockedStore(alias, clock, shared=shared)
                _stores[ident] = store
    return store


@receiver(setting_changed)
def _forget_stores(*, setting: str, **kwargs: Any) -> None:
    if setting in ("CACHES", "SHIPPING_ORDERS"):
        with _stores_lock:
            _stores.clear()


_default_limiter: RateLimiter | None = None
_default_lock = threading.Lock()


def default_limiter() -> RateLimiter:
    """The limiter every provider client of this process is built with."""
    global _default_limiter
    with _default_lock:
        if _default_limiter is None:
            _default_limiter = RateLimiter()
        return _default_limiter
