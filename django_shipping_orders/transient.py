"""Database errors worth trying again, and trying again.

A write can lose a race without anything being wrong: SQLite answers
"database is locked" when another process writes (at once, without waiting,
when a transaction that has read wants to write), PostgreSQL aborts one of
two deadlocked transactions or a serialization failure, MySQL does the same
(deadlock, lock wait timeout). A database restarting, failing over or
dropping the connection is the same kind of trouble: the server is there
again a moment later. Such an error says "not now", never "never":
callers keep the work to try again (a callback receipt stays ``received``;
placing an order never hides it behind a raw database error), and
:func:`retrying` tries a few more times first, when it may (outside any
transaction: inside one, the whole transaction must be redone by its owner;
and not after a lost connection, when a commit may have taken).
:func:`reconnect_if_lost` lets the next query open a fresh connection.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.db import DatabaseError, connections, router

from .redaction import get_logger

logger = get_logger("django_shipping_orders.transient")

T = TypeVar("T")


@dataclass(frozen=True)
class _Signs:
    """How the drivers tell one kind of error: SQLSTATEs (whole, or by class), MySQL error
    numbers, and the words of a driver that gives no code."""

    sqlstates: frozenset[str]
    sqlstate_classes: tuple[str, ...]
    mysql_errors: frozenset[int]
    words: tuple[str, ...]


#: The transaction was rolled back. PostgreSQL (and others speaking SQLSTATEs):
#: serialization failure, deadlock, lock not available; MySQL / MariaDB: lock wait timeout,
#: deadlock; SQLite's words for "another connection holds the lock".
_ROLLED_BACK = _Signs(
    sqlstates=frozenset({"40001", "40P01", "55P03"}),
    sqlstate_classes=(),
    mysql_errors=frozenset({1205, 1213}),
    words=("database is locked", "database table is locked", "database is busy"),
)
#: The connection failed or was lost; whether the last COMMIT took is unknown. SQLSTATE
#: class 08, and the server shutting down, crashed or still starting up; MySQL / MariaDB:
#: can't connect (2002, 2003), server gone away (2006), lost connection (2013), shutdown in
#: progress (1053), connection killed (1927); drivers' words when they give no code
#: (psycopg at connect time).
_LOST = _Signs(
    sqlstates=frozenset({"57P01", "57P02", "57P03"}),
    sqlstate_classes=("08",),
    mysql_errors=frozenset({2002, 2003, 2006, 2013, 1053, 1927}),
    words=(
        "connection failed",
        "could not connect",
        "connection refused",
        "server closed the connection",
        "terminating connection",
        "the database system is",
        "connection already closed",
        "connection is closed",
        "connection is lost",
        "lost connection",
    ),
)


def is_transient(error: BaseException, *, lost_connection: bool = True) -> bool:
    """True for a database error that a later attempt may not meet.

    A lock, a deadlock or a serialization failure (the transaction was rolled
    back); and, unless ``lost_connection`` is False, a connection that failed
    or was lost (a restart, a failover): the server is back a moment later,
    but whether the last commit took is unknown, so only work that is safe to
    do twice should be tried again after it.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _says(current, _ROLLED_BACK) or (lost_connection and _says(current, _LOST)):
            return True
        current = current.__cause__ or current.__context__
    return False


def _says(error: BaseException, signs: _Signs) -> bool:
    # The driver's own error (Django's wrapper chains it as the cause) carries the code.
    sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if isinstance(sqlstate, str) and (
        sqlstate in signs.sqlstates or sqlstate.startswith(signs.sqlstate_classes)
    ):
        return True
    if not isinstance(error, DatabaseError | sqlite3.Error):
        return False
    args = getattr(error, "args", ())
    if args and isinstance(args[0], int) and args[0] in signs.mysql_errors:
        return True
    text = str(error).lower()
    return any(words in text for words in signs.words)


def retrying(
    func: Callable[[], T],
    *,
    attempts: int = 5,
    first_delay: float = 0.05,
    max_delay: float = 2.0,
    model: type | None = None,
) -> T:
    """``func()``, tried again after a lock, a deadlock or a serialization failure.

    Not after a lost connection (see :func:`is_transient`): a write whose
    commit may have taken is not written twice. Only outside a transaction
    on the database of ``model`` (the default database if none): inside
    one, the owner of the transaction must retry the whole of it. Waits grow with jitter; the last error is raised as is.
    """
    alias = router.db_for_write(model) if model is not None else "default"
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return func()
        except Exception as err:
            rolled_back = is_transient(err, lost_connection=False)
            if attempt == attempts or not rolled_back or connections[alias].in_atomic_block:
                raise
            logger.info("Transient database error (attempt %d): %s; trying again", attempt, err)
        time.sleep(delay * (0.5 + random.random()))
        delay = min(max_delay, delay * 2)
    raise AssertionError("unreachable")  # pragma: no cover


def reconnect_if_lost(alias: str) -> None:
    """Close ``alias``'s connection if an error left it unusable; the next query opens another.

    Django checks this between requests only; a drain or a command that goes
    on after the database came back would otherwise keep failing on the dead
    connection. Inside a transaction nothing is done: its owner must give up first.
    """
    connection = connections[alias]
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()
