"""A lock in the shared cache, so two runs of the same job never overlap.

Used by the scheduled refresh and the callback drain: a run that finds the
lock taken by another returns at once instead of doing the same work twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache import caches

from .conf import shipping_settings

#: A lock outlives a crashed holder by this long at most.
GUARD_TIMEOUT = 15 * 60


class Guard:
    """The lock of one run: true when this run holds it; :meth:`renew` keeps it while working.

    A run that renews its lock as it goes can take a short timeout, so that a
    run killed midway (a worker's timeout, a restart) holds up the next one
    for that long only, not for the longest a run could take.
    """

    def __init__(self, cache: Any, key: str, token: str, timeout: int, acquired: bool) -> None:
        self._cache, self._key, self._token = cache, key, token
        self.timeout, self.acquired = timeout, acquired

    def __bool__(self) -> bool:
        return self.acquired

    def renew(self) -> None:
        """Start the lock's timeout again, if this run still holds it."""
        if self.acquired and self._cache.get(self._key) == self._token:
            self._cache.touch(self._key, self.timeout)


@contextmanager
def overlap_guard(name: str, *, timeout: int = GUARD_TIMEOUT) -> Iterator[Guard]:
    """Yield the lock ``name`` (shared cache): true if this run holds it, false if another does."""
    cache = caches[shipping_settings.rate_limit_cache]
    key = f"shipping_orders:guard:{name}"
    token = uuid.uuid4().hex
    acquired = bool(cache.add(key, token, timeout=timeout))
    try:
        yield Guard(cache, key, token, timeout, acquired)
    finally:
        if acquired and cache.get(key) == token:
            cache.delete(key)
