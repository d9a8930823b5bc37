"""The refresh road: claim due orders, Get Order inside the rate limit, ``sync.apply_document``.

- ``claims``: which orders are due, and leasing them to one worker;
- ``engine``: the engine: admits claimed orders through the rate limit, applies answers;
- ``pool``: its worker threads;
- ``unchanged``: whether an answer would change nothing (bookkeeping only);
- ``writer``: what the claiming thread writes between chunks;
- ``summary``: what a run did.

``refresh_due()`` and ``refresh_orders()`` are what the command and the
django-q2 tasks call.
"""

from .claims import claim, claim_due, due_orders, in_turn, release
from .engine import refresh_due, refresh_orders
from .summary import RefreshFailure, RefreshSummary

__all__ = [
    "RefreshFailure",
    "RefreshSummary",
    "claim",
    "claim_due",
    "due_orders",
    "in_turn",
    "refresh_due",
    "refresh_orders",
    "release",
]
