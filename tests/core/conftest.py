"""Core tests exercise one client at a time: the shared, cross-test rate budget stays out of them.

The shared rate limiter (``ratelimit.py``) keeps its budget in the cache and
waits out a 429's ``Retry-After``; these tests check the client's own retry
rules, so every provider built here gets the client's plain ``Throttle``.
"""

from __future__ import annotations

import pytest

from django_shipping_orders.client import Throttle


@pytest.fixture(autouse=True)
def _no_shared_rate_budget(monkeypatch):
    monkeypatch.setattr(
        "django_shipping_orders.ratelimit.shared_throttle", lambda: Throttle(), raising=False
    )
