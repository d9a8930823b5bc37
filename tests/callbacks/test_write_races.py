"""Races and retries on the callback write path: each ends with the newest state and honest receipts.

Real transactions (``transaction=True``): what is checked is what a user
sees once the callbacks are in (the order's state, each receipt's outcome
and attempts), never how long anything took.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from django_shipping_orders.callbacks import chunks, queue
from django_shipping_orders.callbacks.receipts import content_key
from django_shipping_orders.documents import loads
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


def test_a_lost_insert_of_an_identical_body_is_a_duplicate(client, monkeypatch):
    body = document("PPRACEDUP", "in_transit", "2025-01-01T10:00:00Z")
    post(client, body)
    real_lock = apply.lock_order
    looked: list[str] = []

    def lock_before_the_other_committed(*args: Any) -> Any:
        looked.append("lock")
        return (None, None) if len(looked) == 1 else real_lock(*args)

    monkeypatch.setattr(apply, "lock_order", lock_before_the_other_committed)

    response = post(client, body)

    assert response.json()["status"] == "ignored"
    first, second = CallbackReceipt.objects.order_by("pk")
    assert second.error == f"duplicate of receipt {first.pk}"
    assert Order.objects.get(reference="PPRACEDUP").events.count() == 1


def _lock_waits() -> int:
    """How many transactions of this database wait for a row lock now (PostgreSQL, MariaDB)."""
    with connections["default"].cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        else:
            cursor.execute(
                "SELECT count(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'"
                " AND trx_mysql_thread_id IN"
                " (SELECT id FROM information_schema.processlist WHERE db = DATABASE())"
            )
        return int(cursor.fetchone()[0])


def test_an_identical_body_processed_while_this_one_waited_for_the_lock_is_a_duplicate(client):
    if connection.vendor not in ("postgresql", "mysql"):
        pytest.skip("row locks that make a delivery wait: PostgreSQL and MariaDB")
    post(client, document("PPWAITDUP", "ready_for_pickup", "2025-01-01T09:00:00Z"))
    body = document("PPWAITDUP", "in_transit", "2025-01-01T10:00:00Z")
    raw = json.dumps(body).encode()
    locked, waiting, answers = threading.Event(), threading.Event(), []

    def holder() -> None:
        # A delivery of the same body holding the order's lock, about to commit it as processed.
        try:
            with transaction.atomic():
                Order.objects.select_for_update().get(reference="PPWAITDUP")
                CallbackReceipt.objects.create(
                    account="default",
                    body=raw,
                    content_type="application/json",
                    headers={},
                    dedupe_key=content_key(loads(raw)),  # as the view stores it
                    reference="PPWAITDUP",
                    status=Status.PROCESSED,
                )
                locked.set()
                waiting.wait(30)
        finally:
            connections.close_all()

    def second() -> None:
        try:
            answers.append(post(Client(), body).json())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=holder), threading.Thread(target=second)]
    threads[0].start()
    assert locked.wait(30)
    threads[1].start()
    for _ in range(3000):  # until the second delivery waits for the holder's lock
        if _lock_waits():
            break
        threading.Event().wait(0.01)
    waiting.set()
    for thread in threads:
        thread.join()

    assert answers[0]["status"] == "ignored"
    assert Order.objects.get(reference="PPWAITDUP").events.count() == 1  # one state event, once


@pytest.fixture
def deferred(settings: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Deferred processing; the drain tasks it queues are recorded, not run."""
    settings.SHIPPING_ORDERS = {**settings.SHIPPING_ORDERS, "CALLBACK_PROCESSING": "deferred"}
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kw: queued.append(args))
    return queued


def _stored(body: dict[str, Any], **fields: Any) -> CallbackReceipt:
    raw = json.dumps(body).encode()
    return CallbackReceipt.objects.create(
        account="default",
        body=raw,
        content_type="application/json",
        headers={},
        dedupe_key=content_key(loads(raw)),  # as the view stores it
        reference=body["tracking_number"],
        **fields,
    )


def test_a_receipt_committed_during_the_drain_below_its_ids_is_processed(
    client, deferred, monkeypatch
):
    # Ids are handed out at INSERT: a view whose transaction commits late stores a
    # receipt with a lower id than one the drain has already walked past.
    slow_id = _stored(document("PPLATE", "ready_for_pickup", "2025-01-01T09:00:00Z")).pk
    CallbackReceipt.objects.filter(pk=slow_id).delete()
    post(client, document("PPLATE", "in_transit", "2025-01-01T10:00:00Z"))
    real_batch = queue._process_batch
    batches: list[list[int]] = []

    def batch_then_the_slow_view_commits(batch: list[CallbackReceipt], *args: Any) -> list[str]:
        batches.append([receipt.pk for receipt in batch])
        outcomes = real_batch(batch, *args)
        if len(batches) == 1:
            late = document("PPLATE", "ready_for_pickup", "2025-01-01T09:00:00Z")
            _stored(late, pk=slow_id)
            queue.request_processing()  # what the view does next: the drain's marker is set
        return outcomes

    monkeypatch.setattr(queue, "_process_batch", batch_then_the_slow_view_commits)
    counts = queue.process_pending()

    assert len(deferred) == 1  # only the first callback queued a drain: the late one relied on it
    assert counts == {"processed": 1, "ignored": 1}  # the late one is older: stale, but seen
    assert not CallbackReceipt.objects.filter(status=Status.RECEIVED).exists()
    assert Order.objects.get(reference="PPLATE").state == "in_transit"


def test_two_callbacks_in_one_chunk_for_an_order_being_placed_update_its_one_row(
    client, deferred, monkeypatch
):
    Order.objects.create(
        account="default",
        reference=None,
        placement=Order.Placement.PENDING,
        retailer_reference="R1",
    )
    post(client, document("PPPLACE", "ready_for_pickup", "2025-01-01T09:00:00Z", **_shop("R1")))
    post(client, document("PPPLACE", "in_transit", "2025-01-01T10:00:00Z", **_shop("R1")))
    real_chunk = chunks.process_chunk
    chunk_outcomes: list[Any] = []
    monkeypatch.setattr(
        chunks,
        "process_chunk",
        lambda chunk: chunk_outcomes.append(real_chunk(chunk)) or chunk_outcomes[-1],
    )

    with CaptureQueriesContext(connection) as queries:
        assert queue.process_pending() == {"processed": 2}

    order_insert = f"INSERT INTO {connection.ops.quote_name(Order._meta.db_table)} "
    assert not [q for q in queries if q["sql"].startswith(order_insert)]  # no second row tried
    assert chunk_outcomes == [[Status.PROCESSED, Status.PROCESSED]]  # not rolled back
    order = Order.objects.get()
    assert (order.reference, order.state) == ("PPPLACE", "in_transit")
    assert order.placement == Order.Placement.SUBMITTED
    assert list(CallbackReceipt.objects.values_list("attempts", flat=True)) == [1, 1]


def _shop(reference: str) -> dict[str, Any]:
    return {"retailer_reference": reference}


def test_receipts_of_a_rolled_back_chunk_count_one_attempt_each(client, deferred, monkeypatch):
    for index in range(5):
        post(client, document(f"PPPOISON{index}", "in_transit", "2025-01-01T10:00:00Z"))
    real_fields = apply._apply_fields

    def poisoned(order: Order, document: Any) -> list[str]:
        if document.reference == "PPPOISON3":
            raise RuntimeError("poison")
        return real_fields(order, document)

    monkeypatch.setattr(apply, "_apply_fields", poisoned)

    assert queue.process_pending() == {"processed": 4, "failed": 1}

    receipts = CallbackReceipt.objects.order_by("pk")
    assert [(r.reference, r.status, r.attempts) for r in receipts] == [
        (f"PPPOISON{index}", Status.FAILED if index == 3 else Status.PROCESSED, 1)
        for index in range(5)
    ]


def _shipped_then_moved(reference: str) -> list[dict[str, Any]]:
    """A new order whose webhook says what shipped, then a state change without products."""
    created = document(
        reference,
        "ready_for_pickup",
        "2025-01-01T09:00:00Z",
        current_state="ready_for_pickup",
        product_attributes=[{"title": "a", "sku": "A", "quantity": 3}],
        products=[
            {"title": "a", "sku": "A", "quantity": 1},
            {"title": "z", "sku": "Z", "quantity": 1},
        ],
    )
    del created["state"]
    moved = document(reference, "in_transit", "2025-01-01T10:00:00Z", current_state="in_transit")
    del moved["state"]
    return [created, moved]


def test_a_chunk_forgets_the_products_digest_of_a_new_order_with_shipped_products(
    client, settings, deferred
):
    for body in _shipped_then_moved("PPSHIPPEDDRAIN"):
        post(client, body)
    assert queue.process_pending() == {"processed": 2}
    settings.SHIPPING_ORDERS = {**settings.SHIPPING_ORDERS, "CALLBACK_PROCESSING": "inline"}
    for body in _shipped_then_moved("PPSHIPPEDINLINE"):
        post(client, body)

    drained, inline = (Order.objects.get(reference=f"PPSHIPPED{r}") for r in ("DRAIN", "INLINE"))
    # The rows are no longer what a document's lines made: the next document reads them.
    assert drained.products_digest == inline.products_digest == ""
    lines = ("title", "quantity", "quantity_shipped")
    assert list(drained.products.values_list(*lines)) == list(inline.products.values_list(*lines))
