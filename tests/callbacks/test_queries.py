"""Statements per callback, counted (never timed): few on the update path, the same for 1 and 50 parcels.

Real transactions (``transaction=True``), so BEGIN and COMMIT are counted as
the database sees them, with the receipt committed on its own first.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from django_shipping_orders.models import CallbackReceipt, Order
from tests.states import SHIPPIT_HAPPY_PATH

from .conftest import order_document, post

pytestmark = pytest.mark.django_db(transaction=True)

START = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")


def _duplicate_look() -> int:
    """PostgreSQL looks for a duplicate in a statement after the lock (a fresh snapshot)."""
    return 1 if connection.vendor == "postgresql" else 0


def _document(reference: str, parcels: int, step: int, **changes: Any) -> dict[str, Any]:
    history = [
        {"status": SHIPPIT_HAPPY_PATH[i], "time": (START + timedelta(minutes=10 * i)).isoformat()}
        for i in range(step, -1, -1)
    ]
    return order_document(
        reference, parcels, state=SHIPPIT_HAPPY_PATH[step], status_history=history, **changes
    )


def _statements(client: Client, body: dict[str, Any]) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = post(client, body)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "processed"
    return [query["sql"] for query in queries]


def _kinds(statements: list[str]) -> list[str]:
    return [" ".join(sql.split()[:3]).split(" (")[0] for sql in statements]


def test_an_update_moving_the_state_runs_seven_statements_eight_on_postgresql():
    client = Client(enforce_csrf_checks=True)
    counted = {}
    for parcels in (1, 50):
        reference = f"PPQUPDATE{parcels}"
        post(client, _document(reference, parcels, 0))
        counted[parcels] = _statements(client, _document(reference, parcels, 1))
        assert Order.objects.get(reference=reference).parcels.count() == parcels

    assert len(counted[1]) == len(counted[50]) == 7 + _duplicate_look(), _kinds(counted[50])
    # The receipt committed on its own, then one transaction: lock, event, order, outcome.
    work = [sql for sql in counted[50] if not sql.startswith(TRANSACTION_CONTROL)]
    assert len(work) == 5 + _duplicate_look()
    assert not any(sql.startswith("SAVEPOINT") for sql in counted[50])
    lock = next(sql for sql in counted[50] if sql.startswith("SELECT"))
    assert "ORDER BY" not in lock.split("FROM")[-1]  # the order's own query, not the duplicate's


def test_an_update_of_details_only_runs_six_statements_seven_on_postgresql():
    client = Client(enforce_csrf_checks=True)
    counted = {}
    for parcels in (1, 50):
        reference = f"PPQDETAIL{parcels}"
        post(client, _document(reference, parcels, 1))
        body = _document(reference, parcels, 1, receiver_name="Someone Else")
        counted[parcels] = _statements(client, body)
        assert Order.objects.get(reference=reference).receiver_name == "Someone Else"

    assert len(counted[1]) == len(counted[50]) <= 6 + _duplicate_look(), _kinds(counted[50])


def test_new_orders_and_changed_parcels_cost_the_same_statements_for_1_and_50_parcels():
    client = Client(enforce_csrf_checks=True)
    new, changed = {}, {}
    for parcels in (1, 50):
        reference = f"PPQNEW{parcels}"
        new[parcels] = _statements(client, _document(reference, parcels, 0))
        first = _document(reference, parcels, 1)
        for parcel in first["parcel_attributes"]:
            parcel["weight"] = 3.5
        changed[parcels] = _statements(client, first)
        assert set(
            Order.objects.get(reference=reference).parcels.values_list("weight", flat=True)
        ) == {3.5}

    assert len(new[1]) == len(new[50]), (_kinds(new[1]), _kinds(new[50]))
    if connection.vendor in {"postgresql", "sqlite"}:
        # The INSERT itself says what to do if a concurrent delivery took the key first.
        assert not any(sql.startswith("SAVEPOINT") for sql in new[50]), _kinds(new[50])
        assert any("ON CONFLICT" in sql for sql in new[50])
    assert len(changed[1]) == len(changed[50]), (_kinds(changed[1]), _kinds(changed[50]))


def test_a_duplicate_found_by_the_lock_statement_changes_nothing():
    client = Client(enforce_csrf_checks=True)
    body = _document("PPQDUP", 3, 2)
    post(client, body)
    before = Order.objects.values().get(reference="PPQDUP")

    response = post(client, body)

    assert response.json()["status"] == "ignored"
    first, second = CallbackReceipt.objects.order_by("pk")
    assert second.error == f"duplicate of receipt {first.pk}"
    assert Order.objects.values().get(reference="PPQDUP") == before


def test_a_duplicate_of_an_order_since_deleted_is_still_a_duplicate():
    client = Client(enforce_csrf_checks=True)
    body = _document("PPQGONE", 1, 2)
    post(client, body)
    Order.objects.filter(reference="PPQGONE").delete()

    response = post(client, body)

    assert response.json()["status"] == "ignored"
    assert not Order.objects.filter(reference="PPQGONE").exists()


@pytest.mark.parametrize("deleted", [False, True], ids=["kept", "order-deleted"])
def test_a_twin_processed_after_the_receipt_was_stored_is_still_its_duplicate(monkeypatch, deleted):
    from django_shipping_orders.callbacks import views

    client = Client(enforce_csrf_checks=True)
    body = _document("PPQTWIN", 2, 1)
    real = views.process_receipt
    twin: list[Any] = []

    def twin_first(receipt: CallbackReceipt, **kwargs: Any) -> Any:
        if not twin:  # the first request is stored; its twin arrives and is processed now
            twin.append(None)
            twin.append(post(client, body).json())
            if deleted:  # and staff delete the order before the first is processed
                Order.objects.filter(reference="PPQTWIN").delete()
        return real(receipt, **kwargs)

    monkeypatch.setattr(views, "process_receipt", twin_first)

    first = post(client, body)

    assert twin[1]["status"] == "processed"
    assert first.json()["status"] == "ignored"  # applied once, by the twin
    stored_first, stored_twin = CallbackReceipt.objects.order_by("pk")
    assert stored_first.error == f"duplicate of receipt {stored_twin.pk}"
    assert Order.objects.filter(reference="PPQTWIN").exists() is not deleted
