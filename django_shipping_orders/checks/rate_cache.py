"""Checks of the cache holding the shared rate budget (E009, E010, E011, E012, W005)."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.utils.module_loading import import_string

from ..conf import GLOBAL_DEFAULTS, SETTING_NAME

#: Cache backends whose data lives in one process: the budget would be that process's only.
_PER_PROCESS_CACHES = ("django.core.cache.backends.locmem.LocMemCache",)
_NO_CACHES = ("django.core.cache.backends.dummy.DummyCache",)
#: Shared by the processes of one machine, but ``add`` (the limiter's lock) is not atomic.
_UNLOCKED_CACHES = ("django.core.cache.backends.filebased.FileBasedCache",)
#: Backends that cull entries when ``MAX_ENTRIES`` is reached, whichever key they hold.
_CULLING_CACHES = (
    "django.core.cache.backends.db.BaseDatabaseCache",
    "django.core.cache.backends.filebased.FileBasedCache",
    "django.core.cache.backends.locmem.LocMemCache",
)
#: MAX_ENTRIES a culling cache shared with the rest of the site needs before the budget is safe.
SAFE_SHARED_ENTRIES = 100_000


def is_backend(path: str, bases: tuple[str, ...]) -> bool:
    """True when the cache backend ``path`` is one of ``bases`` or a subclass of one."""
    if path in bases:
        return True
    try:
        cls = import_string(path)
    except ImportError:
        return False
    if not isinstance(cls, type):
        return False
    for base in bases:
        try:
            if issubclass(cls, import_string(base)):
                return True
        except ImportError:
            continue
    return False


def _check_culling(alias: str, config: dict[str, Any], accounts: int) -> list[CheckMessage]:
    """E012: a culling cache can evict the budget (the log is lost, the limit is exceeded)."""
    if not is_backend(str(config.get("BACKEND", "")), _CULLING_CACHES):
        return []
    options = config.get("OPTIONS") or {}
    if not isinstance(options, dict):
        return []  # Django reports its own options
    try:
        max_entries = int(options.get("MAX_ENTRIES", 300))
        cull_frequency = int(options.get("CULL_FREQUENCY", 3))
    except (TypeError, ValueError, OverflowError):
        return []  # Django reports its own options
    shared = alias in ("default", getattr(settings, "SESSION_CACHE_ALIAS", "default"))
    # Another alias on the same table (or directory, or local-memory store) culls it by its
    # own MAX_ENTRIES.
    store = _store(config)
    same_store = sorted(
        other
        for other, theirs in (getattr(settings, "CACHES", {}) or {}).items()
        if other != alias and isinstance(theirs, dict) and store and _store(theirs) == store
    )
    if same_store:
        return [
            Error(
                f"The rate limit cache {alias!r} keeps its entries where {same_store[0]!r} "
                f"does (LOCATION {config.get('LOCATION')!r}): that alias's entries cull it, "
                "so the rate budget can be evicted and the providers' rate limits exceeded.",
                hint=f"Give CACHES[{alias!r}] a LOCATION of its own (for the database cache, "
                "its own table: then run createcachetable), or use Redis. See docs/scaling.md.",
                id="shipping_orders.E012",
            )
        ]
    # Each account's budget is a few keys (log, state, lock); a dedicated alias holds only those.
    need = SAFE_SHARED_ENTRIES if shared else 10 * max(1, accounts) + 20
    if max_entries >= need and not (shared and cull_frequency == 0):
        return []
    return [
        Error(
            f"The rate limit cache {alias!r} culls entries (MAX_ENTRIES={max_entries}, "
            f"CULL_FREQUENCY={cull_frequency}){' and is shared with the site' if shared else ''}: "
            "when it fills, the rate budget can be evicted and the providers' rate limits "
            "exceeded.",
            hint='Give the rate limit a dedicated cache alias (CACHES["shipping"], '
            f'RATE_LIMIT_CACHE = "shipping") with MAX_ENTRIES of at least {need}, '
            "or use Redis. See docs/scaling.md.",
            id="shipping_orders.E012",
        )
    ]


def _store(config: dict[str, Any]) -> tuple[str, str] | None:
    """Where a culling cache keeps its entries: (kind, place), equal for aliases sharing them.

    The database cache's table, the file cache's directory (however written),
    the local-memory cache's name (``""`` when none is given: one store for all).
    """
    backend = str(config.get("BACKEND", ""))
    location = config.get("LOCATION")
    for base in _CULLING_CACHES:
        if is_backend(backend, (base,)):
            if base.endswith("FileBasedCache"):
                if not isinstance(location, str | os.PathLike) or not str(location):
                    return None
                return base, os.path.realpath(os.fspath(location))  # links resolved
            if base.endswith("LocMemCache"):
                return base, str(location or "")
            return (base, str(location)) if location else None
    return None


def check_rate_limit_cache(raw: dict[str, Any]) -> list[CheckMessage]:
    """The rate budget must live in a cache every process shares (E009, E010, E011, W005)."""
    alias = raw.get("RATE_LIMIT_CACHE", GLOBAL_DEFAULTS["RATE_LIMIT_CACHE"])
    caches = getattr(settings, "CACHES", {}) or {}
    if not isinstance(alias, str):
        return []  # E007 reports the wrong type
    if alias not in caches:
        return [
            Error(
                f"{SETTING_NAME}['RATE_LIMIT_CACHE'] names {alias!r}, which is not in CACHES.",
                hint="Name a cache alias of settings.CACHES (Redis in production). "
                "See docs/scaling.md.",
                id="shipping_orders.E009",
            )
        ]
    if not isinstance(caches[alias], dict):
        return []  # Django refuses such a CACHES entry itself
    backend = str(caches[alias].get("BACKEND", ""))
    accounts = raw.get("ACCOUNTS")
    culling = _check_culling(
        alias, caches[alias], len(accounts) if isinstance(accounts, dict) else 1
    )
    if is_backend(backend, _NO_CACHES):
        return [
            Error(
                f"The rate limit cache {alias!r} is a DummyCache: it keeps no request budget, "
                "so the app would exceed the providers' rate limits.",
                hint="Point RATE_LIMIT_CACHE at Redis (or Memcached, or the database cache). "
                "See docs/scaling.md.",
                id="shipping_orders.E011",
            )
        ]
    if is_backend(backend, _PER_PROCESS_CACHES) and raw.get("SINGLE_PROCESS") is not True:
        # An error whatever DEBUG says: runserver plus a qcluster are already two processes.
        return [
            Error(
                f"The rate limit cache {alias!r} is local memory: each process would keep a "
                "budget of its own, so a web server, a qcluster and a command together "
                "exceed the providers' rate limits.",
                hint="Use a cache every process shares for RATE_LIMIT_CACHE (Redis; or the "
                "database cache after manage.py createcachetable), or, if truly one process "
                f'talks to the providers, set {SETTING_NAME}["SINGLE_PROCESS"] = True. '
                "See docs/scaling.md.",
                id="shipping_orders.E010",
            )
        ]
    if is_backend(backend, _UNLOCKED_CACHES):
        return [
            *culling,
            Warning(
                f"The rate limit cache {alias!r} is a file cache: its add() is not atomic, so "
                "processes taking slots at the same moment can exceed the rate limit.",
                hint="Use Redis, Memcached or the database cache for RATE_LIMIT_CACHE. "
                "See docs/scaling.md.",
                id="shipping_orders.W005",
            ),
        ]
    return culling
