"""Database errors worth trying again, and trying again.

A write can lose a race without anything being wrong: SQLite answers
"database is locked" when another process writes (at once, without waiting,
when a transaction that has read wants to write), PostgreSQL aborts one of
two deadlocked transactions or a serialization failure, MySQL does the same
(deadlock, lock wait timeout). Such an error says "not now", never "never":
callers keep the work to try again (a callback receipt stays ``received``;
placing an order never hides it behind a raw database error), and
:func:`retrying` tries a few more times first, when it may (outside any
transaction: inside one, the whole transaction must be redone by its owner).
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import DatabaseError, connections, router

from .redaction import get_logger

logger = get_logger("django_shipping_orders.transient")

T = TypeVar("T")

#: SQLSTATEs of PostgreSQL (and others speaking them): serialization failure, deadlock,
#: lock not available.
_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
#: MySQL / MariaDB error numbers: lock wait timeout, deadlock.
_MYSQL_ERRORS = frozenset({1205, 1213})
#: SQLite's words for "another connection holds the lock".
_SQLITE_WORDS = ("database is locked", "database table is locked", "database is busy")


def is_transient(error: BaseException) -> bool:
    """True for a database error that a later attempt may not meet (lock, deadlock, serialization)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _says_transient(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _says_transient(error: BaseException) -> bool:
    # The driver's own error (Django's wrapper chains it as the cause) carries the code.
    sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if sqlstate in _SQLSTATES:
        return True
    if not isinstance(error, DatabaseError | sqlite3.Error):
        return False
    args = getattr(error, "args", ())
    if args and isinstance(args[0], int) and args[0] in _MYSQL_ERRORS:
        return True
    text = str(error).lower()
    return any(words in text for words in _SQLITE_WORDS)


def retrying(
    func: Callable[[], T],
    *,
    attempts: int = 5,
    first_delay: float = 0.05,
    max_delay: float = 2.0,
    model: type | None = None,
) -> T:
    """``func()``, tried again after a transient database error (see :func:`is_transient`).

    Only outside a transaction on the database of ``model`` (the default
    database if none): inside one, the owner of the transaction must retry
    the whole of it. Waits grow with jitter; the last error is raised as is.
    """
    alias = router.db_for_write(model) if model is not None else "default"
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return func()
        except Exception as err:
            if attempt == attempts or not is_transient(err) or connections[alias].in_atomic_block:
                raise
            logger.info("Transient database error (attempt %d): %s; trying again", attempt, err)
        time.sleep(delay * (0.5 + random.random()))
        delay = min(max_delay, delay * 2)
    raise AssertionError("unreachable")  # pragma: no cover
