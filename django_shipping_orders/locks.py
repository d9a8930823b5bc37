"""A lock in the shared cache, so two runs of the same job never overlap.

Used by the scheduled refresh and the callback drain: a run that finds the
lock taken by another returns at once instead of doing the same work twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import caches

from .conf import shipping_settings

#: A lock outlives a crashed holder by this long at most.
GUARD_TIMEOUT = 15 * 60


@contextmanager
def overlap_guard(name: str, *, timeout: int = GUARD_TIMEOUT) -> Iterator[bool]:
    """Yield True if this run holds the lock ``name`` (shared cache), False if another does."""
    cache = caches[shipping_settings.rate_limit_cache]
    key = f"shipping_orders:guard:{name}"
    token = uuid.uuid4().hex
    acquired = cache.add(key, token, timeout=timeout)
    try:
        yield acquired
    finally:
        if acquired and cache.get(key) == token:
            cache.delete(key)
