"""Core tests exercise one client at a time: the shared, cross-test rate budget stays out of them.

The shared rate limiter (``ratelimit/``) keeps its budget in the cache and
pauses an account after a 429; these tests check the client's own retry
rules, so every provider built here gets a client without a limiter.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_shared_rate_budget(monkeypatch):
    monkeypatch.setattr("django_shipping_orders.providers.base.default_limiter", lambda: None)
