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
- local memory: the log in this process's memory (no pickling); it counts
  for this process only, which the system check refuses unless
  ``SINGLE_PROCESS``.

A 429 means someone else spends the same key (another app, a person with
curl) or the provider counts differently: the account pauses for the
``Retry-After`` (or a tenth of the window) and runs at half its limit for
one window, everywhere.

The parts: :mod:`.limiter` (slots, waits, penalties), :mod:`.stores` (a
shared cache, this process's memory, and which one a cache gets),
:mod:`.redis_store` (the Lua scripts), :mod:`.base` (what a store answers).
"""

from .base import Decision, Store
from .limiter import (
    KEY_PREFIX,
    MAX_POLL,
    RateLimiter,
    Ticket,
    budget_key,
    default_limiter,
)
from .redis_store import RedisStore
from .stores import (
    LOCAL_CACHES,
    LocalStore,
    LockedStore,
    backend_path,
    is_local_cache,
    redis_client,
    store_for,
)

__all__ = [
    "KEY_PREFIX",
    "LOCAL_CACHES",
    "MAX_POLL",
    "Decision",
    "LocalStore",
    "LockedStore",
    "RateLimiter",
    "RedisStore",
    "Store",
    "Ticket",
    "backend_path",
    "budget_key",
    "default_limiter",
    "is_local_cache",
    "redis_client",
    "store_for",
]
