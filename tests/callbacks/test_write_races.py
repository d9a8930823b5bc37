"""Races and retries on the callback write path: each ends with the newest state and honest receipts.

Real transactions (``transaction=True``): what is checked is what a user
sees once the callbacks are in (the order's state, each receipt's outcome
and attempts), never how long anything took.
"""

from __future__ import annotations

from typing import Any

import pytest

from django_shipping_orders.models import CallbackReceipt, Order
from django_shipping_orders.sync import apply

from .conftest import post

pytestmark = pytest.mark.django_db(transaction=True)

Status = CallbackReceipt.Status


def document(reference: str, state: str, time: str, **extra: Any) -> dict[str, Any]:
    """A Get Order body saying ``reference`` reached ``state`` at ``time``."""
    return {
        "tracking_number": reference,
        "state": state,
        "status_history": [{"status": state, "time": time}],
        **extra,
    }


def test_a_new_order_inserted_by_a_concurrent_delivery_gets_the_newer_state(client, monkeypatch):
    # Another delivery stored the order between this one's lookup and its INSERT.
    post(client, document("PPRACENEW", "ready_for_pickup", "2025-01-01T09:00:00Z"))
    real_lock = apply.lock_order
    looked: list[str] = []

    def lock_before_the_other_committed(*args: Any) -> Any:
        looked.append("lock")
        return (None, None) if len(looked) == 1 else real_lock(*args)

    monkeypatch.setattr(apply, "lock_order", lock_before_the_other_committed)

    response = post(client, document("PPRACENEW", "in_transit", "2025-01-01T10:00:00Z"))

    assert len(looked) == 2  # the INSERT lost the race and the winner's row was locked
    assert response.json()["status"] == "processed"
    assert Order.objects.get(reference="PPRACENEW").state == "in_transit"
    assert list(CallbackReceipt.objects.values_list("status", flat=True)) == [Status.PROCESSED] * 2
