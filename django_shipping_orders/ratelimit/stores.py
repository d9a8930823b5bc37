"""Where the rate budgets live: one sliding log per API key, in Redis, a shared cache or this process.

Each store changes a log atomically for every process that shares it; the
limiter (:mod:`.limiter`) decides nothing here but "is there a slot".
See the package docstring for how the logs count.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver

from .base import Decision, Store, new_token
from .redis_store import RedisStore

#: Longest a process holds the lock of a shared (non-Redis) log, in seconds.
LOCK_TIMEOUT = 5

_lock_wait = threading.local()


class LockBusy(TimeoutError):
    """The lock of a shared log stayed taken past the caller's deadline."""


@contextmanager
def lock_deadline(deadline: float | None) -> Iterator[None]:
    """Bound every lock wait of this thread by ``deadline`` (monotonic; None: the default)."""
    before = getattr(_lock_wait, "deadline", None)
    _lock_wait.deadline = deadline
    try:
        yield
    finally:
        _lock_wait.deadline = before


# -- any other cache: one value per key, changed under a lock -------------------------------


class LockedStore:
    """Logs as cache values: ``{"done": stamps of answered requests, "flight": token -> stamp}``.

    Answered requests count until ``stamp + window``; requests in flight until
    they are answered (or ``stamp``, their give-up time, plus the window).
    """

    def __init__(self, alias: str, clock: Callable[[], float]) -> None:
        self._alias = alias
        self._clock = clock
        self._lock = threading.Lock()  # threads of this process queue here, not in the cache

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

    def finish(self, key: str, token: str, late: float = 0.0) -> None:
        with self._locked(key) as cache:
            now = self._clock()
            log = _read(cache, key, now, math.inf)
            if token not in log["flight"]:
                return
            if late:
                log["flight"][token] = now + late  # still in flight: it may yet arrive
            else:
                del log["flight"][token]
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
        return _Lock(self._cache, key + ":lock", self._lock)


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
    """The thread lock, then the processes' lock, taken with the atomic ``cache.add``."""

    def __init__(self, cache: Any, key: str, local: threading.Lock) -> None:
        self._cache, self._key, self._local = cache, key, local
        self._token = ""

    def __enter__(self) -> Any:
        deadline = time.monotonic() + LOCK_TIMEOUT * 2
        caller = getattr(_lock_wait, "deadline", None)
        if caller is not None:
            deadline = min(deadline, caller)  # a caller's wait budget bounds the lock wait
        if not self._local.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise LockBusy("the lock of the rate limit cache stayed taken")
        self._token = uuid.uuid4().hex
        delay = 0.001
        while not self._cache.add(self._key, self._token, timeout=LOCK_TIMEOUT):
            if time.monotonic() > deadline:
                self._local.release()
                raise LockBusy("the lock of the rate limit cache stayed taken")
            time.sleep(delay)
            delay = min(0.05, delay * 2)
        return self._cache

    def __exit__(self, *exc: object) -> None:
        try:
            if self._cache.get(self._key) == self._token:
                self._cache.delete(self._key)
        finally:
            self._local.release()


# -- local memory: the logs in this process -----------------------------------------------


@dataclass
class _Log:
    done: deque[float] = field(default_factory=deque)
    flight: dict[str, float] = field(default_factory=dict)
    pause: float = 0.0
    slow: float = 0.0

    def prune(self, now: float, window: float) -> None:
        done = self.done
        while done and done[0] <= now - window:
            done.popleft()
        if self.flight:
            gone = [token for token, end in self.flight.items() if end <= now - window]
            for token in gone:
                del self.flight[token]


class LocalStore:
    """Logs in this process's memory, for a local-memory cache (one process only).

    Counting without the cache spares a pickle of the whole log per request.
    The cache keeps a marker: when it is cleared (``cache.clear()``, as tests
    do), the marker is gone and the logs start afresh, as they would in any
    other cache.
    """

    MARKER = "shipping_orders:ratelimit:local-marker"

    def __init__(self, alias: str, clock: Callable[[], float]) -> None:
        self._alias = alias
        self._clock = clock
        self._lock = threading.Lock()
        self._logs: dict[str, _Log] = {}
        self._marker = ""

    def _log(self, key: str) -> _Log:
        """The log of ``key``; call with the lock held."""
        from django.core.cache import caches

        cache = caches[self._alias]
        if not self._marker or cache.get(self.MARKER) != self._marker:
            self._logs = {}
            self._marker = new_token()
            cache.set(self.MARKER, self._marker, timeout=None)
        log = self._logs.get(key)
        if log is None:
            log = self._logs[key] = _Log()
        return log

    def take(self, key: str, limit: int, window: float, flight: float, token: str) -> Decision:
        with self._lock:
            now = self._clock()
            log = self._log(key)
            if log.pause > now:
                return Decision(False, log.pause - now)
            if log.slow > now:
                limit = max(1, limit // 2)
            log.prune(now, window)
            count = len(log.done) + len(log.flight)
            if count >= limit:
                ends = sorted([*log.done, *log.flight.values()])
                return Decision(False, ends[count - limit] + window - now)
            log.flight[token] = now + flight
            return Decision(True)

    def finish(self, key: str, token: str, late: float = 0.0) -> None:
        with self._lock:
            log = self._log(key)
            if token not in log.flight:
                return
            if late:
                log.flight[token] = self._clock() + late  # still in flight: it may yet arrive
            else:
                del log.flight[token]
                log.done.append(self._clock())

    def count(self, key: str, window: float) -> tuple[int, bool, bool]:
        with self._lock:
            now = self._clock()
            log = self._log(key)
            log.prune(now, window)
            return len(log.done) + len(log.flight), log.pause > now, log.slow > now

    def penalize(self, key: str, pause: float, slow_for: float, window: float) -> None:
        with self._lock:
            now = self._clock()
            log = self._log(key)
            log.pause, log.slow = now + pause, now + slow_for

    def reset(self, key: str) -> None:
        with self._lock:
            self._logs.pop(key, None)


# -- choosing the store of a cache ---------------------------------------------------------

#: Backends that keep their data in the process: a budget there is this process's only.
LOCAL_CACHES = frozenset({"django.core.cache.backends.locmem.LocMemCache"})
_stores: dict[tuple[str, int], Store] = {}
_stores_lock = threading.Lock()


def backend_path(cache: Any) -> str:
    """The dotted path of a cache object's class."""
    return f"{type(cache).__module__}.{type(cache).__qualname__}"


def is_local_cache(cache: Any) -> bool:
    """True when ``cache`` keeps its data in this process (a ``LocMemCache``, or a subclass)."""
    from django.core.cache.backends.locmem import LocMemCache

    return isinstance(cache, LocMemCache) or backend_path(cache) in LOCAL_CACHES


def redis_client(cache: Any) -> Any:
    """The redis-py client behind a Django cache (or a subclass of one), or None."""
    from django.core.cache.backends.redis import RedisCache

    if isinstance(cache, RedisCache):
        return cache._cache.get_client(write=True)
    if any(cls.__module__.startswith("django_redis") for cls in type(cache).__mro__):
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
                elif is_local_cache(cache):
                    store = LocalStore(alias, clock)
                else:
                    store = LockedStore(alias, clock)
                _stores[ident] = store
    return store


@receiver(setting_changed)
def _forget_stores(*, setting: str, **kwargs: Any) -> None:
    if setting in ("CACHES", "SHIPPING_ORDERS"):
        with _stores_lock:
            _stores.clear()
