"""CALLBACK_PROCESSING = "deferred": store, answer 202 at once, apply in a django-q2 task."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from django_shipping_orders import callbacks
from django_shipping_orders.callbacks import queue
from django_shipping_orders.models import CallbackReceipt, Order

from .conftest import post, webhook

pytestmark = pytest.mark.django_db

Status = CallbackReceipt.Status


@pytest.fixture
def deferred(settings: Any) -> None:
    settings.SHIPPING_ORDERS = {**settings.SHIPPING_ORDERS, "CALLBACK_PROCESSING": "deferred"}


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Tasks queued instead of run: a cluster that has not picked them up yet."""
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kw: calls.append(args))
    return calls


def test_deferred_callback_is_answered_202_and_stored_unprocessed(client, deferred, queued):
    response = post(client, webhook())

    assert response.status_code == 202
    receipt = CallbackReceipt.objects.get()
    assert response.json() == {"status": "received", "receipt": receipt.pk}
    assert receipt.status == Status.RECEIVED
    assert not Order.objects.exists()
    assert queued == [("django_shipping_orders.tasks.process_pending_callbacks",)]


def test_the_queued_task_applies_what_was_stored(client, deferred, queued):
    post(client, webhook())

    assert callbacks.process_pending() == {"processed": 1}
    assert CallbackReceipt.objects.get().status == Status.PROCESSED
    assert Order.objects.get(reference="PPYvZCTod5bkD").state == "completed"


def test_a_burst_of_callbacks_queues_one_task(client, deferred, queued):
    for index in range(5):
        post(client, webhook(tracking_number=f"PPBURST{index}"))

    assert len(queued) == 1
    assert callbacks.process_pending() == {"processed": 5}
    assert Order.objects.count() == 5


def test_after_a_drain_the_next_callback_queues_a_new_task(client, deferred, queued):
    post(client, webhook(tracking_number="PPFIRST"))
    callbacks.process_pending()
    post(client, webhook(tracking_number="PPSECOND"))

    assert len(queued) == 2


def test_with_a_synchronous_cluster_the_order_is_applied_before_the_answer(client, deferred):
    # tests.settings runs django-q2 synchronously: the queued task runs at once.
    response = post(client, webhook())

    assert response.status_code == 202
    assert Order.objects.get(reference="PPYvZCTod5bkD").state == "completed"
    assert CallbackReceipt.objects.get().status == Status.PROCESSED


def test_a_body_that_can_never_be_processed_is_refused_at_once(client, deferred, queued):
    response = post(client, b"{not json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"
    assert CallbackReceipt.objects.get().status == Status.UNPROCESSABLE
    assert queued == []


def test_a_callback_stored_while_the_drain_finishes_is_not_left_behind(client, deferred, queued):
    post(client, webhook(tracking_number="PPEARLY"))
    original = queue.chunks.process_chunk

    def process_and_receive_another(chunk: Any) -> Any:
        result = original(chunk)
        if any(item.receipt.reference == "PPEARLY" for item in chunk):
            # Arrives while the marker is still set: its request queues nothing.
            post(client, webhook(tracking_number="PPLATE"))
        return result

    queue.chunks.process_chunk = process_and_receive_another
    try:
        counts = callbacks.process_pending()
    finally:
        queue.chunks.process_chunk = original

    assert counts == {"processed": 2}
    assert set(Order.objects.values_list("reference", flat=True)) == {"PPEARLY", "PPLATE"}


def test_inline_mode_drain_takes_only_receipts_left_behind(client):
    post(client, webhook(tracking_number="PPDONE"))
    fresh = CallbackReceipt.objects.create(
        account="default", body=b"{}", dedupe_key="fresh", status=Status.RECEIVED
    )
    stuck = CallbackReceipt.objects.create(
        account="default",
        body=CallbackReceipt.objects.get(reference="PPDONE").body.replace(b"PPDONE", b"PPSTUCK"),
        dedupe_key="stuck",
        status=Status.RECEIVED,
    )
    CallbackReceipt.objects.filter(pk=stuck.pk).update(
        received_at=timezone.now() - timedelta(minutes=5)
    )

    assert callbacks.process_pending() == {"processed": 1}
    assert CallbackReceipt.objects.get(pk=stuck.pk).status == Status.PROCESSED
    assert CallbackReceipt.objects.get(pk=fresh.pk).status == Status.RECEIVED
    assert Order.objects.filter(reference="PPSTUCK").exists()


def test_callback_processing_setting_is_checked(settings):
    from django_shipping_orders.conf import shipping_settings
    from django_shipping_orders.exceptions import ShippingOrdersConfigurationError

    settings.SHIPPING_ORDERS = {**settings.SHIPPING_ORDERS, "CALLBACK_PROCESSING": "later"}
    with pytest.raises(ShippingOrdersConfigurationError, match="CALLBACK_PROCESSING"):
        shipping_settings.callback_processing


def test_store_receipt_writes_the_row_save_would_write():
    before = timezone.now()
    receipt = CallbackReceipt(
        account="default",
        body=b'{"tracking_number": "PPSTORE"}',
        content_type="application/json",
        remote_addr="203.0.113.9",
        headers={"Content-Type": "application/json", "X-Shipping-Callback-Secret": "[redacted]"},
        dedupe_key="d" * 64,
    )
    callbacks.store_receipt(receipt)

    stored = CallbackReceipt.objects.get(pk=receipt.pk)
    assert bytes(stored.body) == b'{"tracking_number": "PPSTORE"}'
    assert stored.headers == receipt.headers
    assert (stored.remote_addr, stored.content_type) == ("203.0.113.9", "application/json")
    assert (stored.status, stored.attempts, stored.dedupe_key) == (Status.RECEIVED, 0, "d" * 64)
    assert before <= stored.received_at <= timezone.now()
    # The instance is a saved row now: saving it again updates, never inserts.
    receipt.status = Status.PROCESSED
    receipt.save()
    assert CallbackReceipt.objects.get().status == Status.PROCESSED


def test_the_drain_applies_a_chunk_and_finds_copies_within_it(client, deferred, queued):
    for body in (webhook("PPCOPY"), webhook("PPCOPY"), webhook("PPOTHER")):
        post(client, body)

    assert callbacks.process_pending() == {"processed": 2, "ignored": 1}
    first, copy, other = CallbackReceipt.objects.order_by("pk")
    assert (first.status, other.status) == (Status.PROCESSED, Status.PROCESSED)
    assert copy.error == f"duplicate of receipt {first.pk}"
    assert Order.objects.get(reference="PPCOPY").state == "completed"


def test_a_chunk_is_one_transaction_and_one_lock_statement(client, deferred, queued):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for index in range(3):
        post(client, webhook(f"PPCHUNK{index}", upto="in_transit"))
    callbacks.process_pending()
    for index in range(3):
        post(client, webhook(f"PPCHUNK{index}"))

    with CaptureQueriesContext(connection) as queries:
        assert callbacks.process_pending() == {"processed": 3}

    statements = [q["sql"].replace("`", '"') for q in queries]  # MySQL quotes with backticks
    order_reads = [
        sql for sql in statements if sql.startswith("SELECT") and '_order"."state"' in sql
    ]
    assert len(order_reads) == 1  # the three orders, locked together
    assert set(Order.objects.values_list("state", flat=True)) == {"completed"}


def test_a_chunk_that_fails_is_undone_and_its_receipts_taken_one_by_one(
    client, deferred, queued, monkeypatch
):
    for reference in ("PPONE", "PPTWO"):
        post(client, webhook(reference))
    from django_shipping_orders import sync

    real = sync.apply_document
    calls: list[str] = []

    def second_fails_in_a_chunk(account, document, *args, **kwargs):
        calls.append(document.reference)
        if kwargs.get("held") is not None and document.reference == "PPTWO":
            raise RuntimeError("only inside a chunk")
        return real(account, document, *args, **kwargs)

    monkeypatch.setattr(sync, "apply_document", second_fails_in_a_chunk)

    assert callbacks.process_pending() == {"processed": 2}
    assert calls == ["PPONE", "PPTWO", "PPONE", "PPTWO"]  # the chunk, then one at a time
    assert set(Order.objects.values_list("reference", flat=True)) == {"PPONE", "PPTWO"}
    assert not CallbackReceipt.objects.exclude(status=Status.PROCESSED).exists()


class Killed(BaseException):
    """What a worker's memory limit or timeout does to the drain: it ends, mid-work."""


def test_a_body_that_kills_the_drain_as_it_is_read_leaves_the_chunks_before_it_applied(
    client, deferred, queued, monkeypatch
):
    for index in range(3):
        post(client, webhook(f"PPBEFORE{index}"))
    post(client, webhook("PPDENSE"))  # within every limit, and too heavy for the worker
    post(client, webhook("PPAFTER"))
    real = queue.chunks.examine

    def examine(body: bytes, provider: Any) -> Any:
        if b"PPDENSE" in body:
            raise Killed
        return real(body, provider)

    monkeypatch.setattr(queue.chunks, "examine", examine)
    monkeypatch.setattr(queue.chunks, "CHUNK_BYTES", 1)  # as for bodies near the size limit

    with pytest.raises(Killed):
        queue.process_pending()

    statuses = dict(CallbackReceipt.objects.values_list("reference", "status"))
    assert [statuses[f"PPBEFORE{i}"] for i in range(3)] == [Status.PROCESSED] * 3
    assert statuses["PPDENSE"] == statuses["PPAFTER"] == Status.RECEIVED


def test_a_chunk_closes_at_its_byte_budget(client, deferred, queued, monkeypatch):
    for index in range(5):
        post(client, webhook(f"PPBYTES{index}"))
    size = len(bytes(CallbackReceipt.objects.first().body))
    monkeypatch.setattr(queue.chunks, "CHUNK_BYTES", size * 2)
    sizes: list[int] = []
    real = queue.chunks.process_chunk

    def counted(chunk: Any) -> Any:
        sizes.append(len(chunk))
        return real(chunk)

    monkeypatch.setattr(queue.chunks, "process_chunk", counted)

    assert queue.process_pending() == {"processed": 5}
    assert sizes == [2, 2, 1]


def test_a_batch_reads_its_bodies_a_chunk_at_a_time(client, deferred, queued, monkeypatch):
    for index in range(5):
        post(client, webhook(f"PPREAD{index}"))
    size = len(bytes(CallbackReceipt.objects.first().body))
    monkeypatch.setattr(queue.chunks, "CHUNK_BYTES", size * 2)
    batches: list[list[CallbackReceipt]] = []
    real_batch, real_read = queue._process_batch, queue._with_bodies

    def seen(batch: list[CallbackReceipt], *args: Any) -> list[str]:
        batches.append(batch)
        return real_batch(batch, *args)

    read: list[tuple[int, int]] = []  # (bodies read now, bodies of the batch still unread)

    def counted(group: list[CallbackReceipt]) -> list[CallbackReceipt]:
        group = real_read(group)
        unread = [r for r in batches[-1] if "body" in r.get_deferred_fields()]
        read.append((len(group), len(unread)))
        return group

    monkeypatch.setattr(queue, "_process_batch", seen)
    monkeypatch.setattr(queue, "_with_bodies", counted)

    assert queue.process_pending() == {"processed": 5}
    assert read == [(2, 3), (2, 1), (1, 0)]


def test_a_receipt_deleted_after_its_batch_was_fetched_is_left_out(
    client, deferred, queued, monkeypatch
):
    for index in range(3):
        post(client, webhook(f"PPGONE{index}"))
    real_read = queue._with_bodies

    def delete_one_first(group: list[CallbackReceipt]) -> list[CallbackReceipt]:
        CallbackReceipt.objects.filter(reference="PPGONE1").delete()  # pruned meanwhile
        return real_read(group)

    monkeypatch.setattr(queue, "_with_bodies", delete_one_first)

    assert queue.process_pending() == {"processed": 2}


def test_a_body_the_view_could_not_read_is_known_by_its_content_once_drained(
    client, deferred, queued, monkeypatch
):
    from django_shipping_orders.callbacks import views

    real = views.examine_keyed
    monkeypatch.setattr(views, "examine_keyed", lambda *a, **k: 1 / 0)  # an adapter's bug
    post(client, b'{"tracking_number": "PPFAULT", "current_state": "in_transit"}')
    monkeypatch.setattr(views, "examine_keyed", real)  # fixed and deployed
    assert queue.process_pending() == {"processed": 1}

    post(client, b'{"current_state":"in_transit","tracking_number":"PPFAULT"}')  # resent

    assert queue.process_pending() == {"ignored": 1}
