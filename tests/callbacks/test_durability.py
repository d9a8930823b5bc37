"""Store first: the receipt is committed before processing, even under ATOMIC_REQUESTS;
concurrent deliveries for one order stay consistent (PostgreSQL)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
from django.db import connection, connections
from django.test import Client

from django_shipping_orders.callbacks import views
from django_shipping_orders.models import CallbackReceipt, Order, Parcel
from django_shipping_orders.states import state_rank
from tests.states import SHIPPIT_HAPPY_PATH

from .conftest import order_document, post, webhook

Status = CallbackReceipt.Status
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


@pytest.fixture
def atomic_requests() -> Iterator[None]:
    previous = connection.settings_dict.get("ATOMIC_REQUESTS", False)
    connection.settings_dict["ATOMIC_REQUESTS"] = True
    yield
    connection.settings_dict["ATOMIC_REQUESTS"] = previous


def _visible_elsewhere(pk: int) -> bool:
    """Whether another connection (another thread) sees the receipt: i.e. it is committed."""
    seen: list[bool] = []

    def look() -> None:
        try:
            seen.append(CallbackReceipt.objects.filter(pk=pk).exists())
        finally:
            connections.close_all()

    thread = threading.Thread(target=look)
    thread.start()
    thread.join(30)
    return seen == [True]


@pytest.mark.django_db(transaction=True)
def test_receipt_is_committed_before_processing_even_with_atomic_requests(
    atomic_requests, monkeypatch
):
    committed: list[bool] = []
    real = views.process_receipt

    def spy(receipt, **kwargs):
        committed.append(_visible_elsewhere(receipt.pk))
        return real(receipt, **kwargs)

    monkeypatch.setattr(views, "process_receipt", spy)
    response = post(Client(enforce_csrf_checks=True), webhook())

    assert response.status_code == 200
    assert committed == [True]
    assert CallbackReceipt.objects.get().status == Status.PROCESSED


@pytest.mark.django_db(transaction=True)
def test_receipt_survives_a_crash_after_storing_under_atomic_requests(atomic_requests, monkeypatch):
    def dying(receipt, **kwargs):
        raise SystemError("worker killed")

    monkeypatch.setattr(views, "process_receipt", dying)
    response = post(Client(enforce_csrf_checks=True), webhook())

    assert response.status_code == 202
    receipt = CallbackReceipt.objects.get()
    assert receipt.status == Status.RECEIVED
    assert _visible_elsewhere(receipt.pk)


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL: run with DATABASE_URL=postgres://…")
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_for_one_order_leave_one_consistent_order():
    bodies = [webhook("PPRACE", upto=state) for state in SHIPPIT_HAPPY_PATH] * 3
    # Full documents too, dated by the same status history as the webhooks.
    for parcels, state, copies in ((5, "order_placed", 3), (7, "despatch_in_progress", 2)):
        history = webhook(upto=state)["status_history"]
        bodies += [order_document("PPRACE", parcels, state=state, status_history=history)] * copies
    barrier = threading.Barrier(len(bodies))
    answers: list[int] = []
    errors: list[BaseException] = []

    def deliver(body: dict) -> None:
        try:
            barrier.wait(30)
            answers.append(post(Client(enforce_csrf_checks=True), body).status_code)
        except BaseException as err:  # reported below
            errors.append(err)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert answers == [200] * len(bodies)
    receipts = CallbackReceipt.objects.all()
    assert receipts.count() == len(bodies)
    assert not receipts.filter(status__in=[Status.FAILED, Status.RECEIVED]).exists(), [
        r.error for r in receipts.filter(status=Status.FAILED)
    ]
    order = Order.objects.get(account="default", reference="PPRACE")
    assert order.state == "completed", list(receipts.values_list("status", "error", "body"))
    positions = list(Parcel.objects.filter(order=order).values_list("position", flat=True))
    assert positions in ([], list(range(5)), list(range(7)))
    # Recorded in the order they were applied: the state only ever moved forward.
    events = list(order.events.order_by("pk").values_list("to_state", flat=True))
    ranks = [state_rank(state) for state in events]
    assert events[-1] == "completed"
    assert ranks == sorted(set(ranks)), events
