"""Fixtures of the refresh tests: a clean rate budget, a sandbox the engine can poll."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import override_settings

from django_shipping_orders.sandbox import SandboxServer

SANDBOX_KEY = "refresh-tests-key"

ORDER = {
    "retailer_reference": "#R1",
    "receiver_name": "Jane Doe",
    "delivery_address": "1 Test Street",
    "delivery_suburb": "Sydney",
    "delivery_state": "NSW",
    "delivery_postcode": "2000",
    "courier_type": "standard",
    "parcel_attributes": [{"qty": 1, "weight": 1.5}],
    "product_attributes": [{"sku": "SKU1", "title": "Mug", "quantity": 1, "price": "12.50"}],
}


def claim_concurrently(workers: int, take: Callable[..., list[Any]]) -> list[list[int]]:
    """The ids each of ``workers`` threads leased, starting at once, calling ``take`` over the
    due orders in chunks of 7 until it returns nothing."""
    from django_shipping_orders import refresh

    barrier = threading.Barrier(workers)
    claimed: list[list[int]] = [[] for _ in range(workers)]

    def work(index: int) -> None:
        try:
            barrier.wait()
            while chunk := take(refresh.due_orders(), limit=7):
                claimed[index].extend(o.pk for o in chunk)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return claimed


def redis_url() -> str:
    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(redis_url(), socket_connect_timeout=0.5).ping())
    except Exception:
        return False


def sandbox_accounts(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "ACCOUNTS": {
            "default": {
                "PROVIDER": "sandbox",
                "API_KEY": SANDBOX_KEY,
                "BASE_URL": url,
                "MAX_RETRIES": 0,
                "RATE_LIMIT": extra.pop("RATE_LIMIT", "10000/m"),
                **extra,
            }
        },
        "REFRESH_WORKERS": 4,
    }


@pytest.fixture(autouse=True)
def _clean_rate_budget() -> Iterator[None]:
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A sandbox whose clock stands still until a test moves it (``advance``)."""
    server = SandboxServer("127.0.0.1", 0, speed=0.0, seed=7)
    server.start()
    server.cancel_share = 0
    server.add_account(SANDBOX_KEY)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sandbox_settings(sandbox: SandboxServer) -> Iterator[dict[str, Any]]:
    value = sandbox_accounts(sandbox.shippit_url)
    with override_settings(SHIPPING_ORDERS=value):
        yield value
