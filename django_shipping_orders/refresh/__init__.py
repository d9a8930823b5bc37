"""The refresh road: claim due orders, Get Order inside the rate limit, ``sync.apply_document``.

- ``claims``: which orders are due, and leasing them to one worker;
- ``engine``: the engine, its thread pool, and the run's summary.

``refresh_due()`` and ``refresh_orders()`` are what the command and the
django-q2 tasks call.
"""

from .claims import claim, due_orders, release
from .engine import RefreshFailure, RefreshSummary, refresh_due, refresh_orders

__all__ = [
    "RefreshFailure",
    "RefreshSummary",
    "claim",
    "due_orders",
    "refresh_due",
    "refresh_orders",
    "release",
]
