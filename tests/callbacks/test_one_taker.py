"""A receipt is applied once, whoever takes it: the drain, a reprocess, the admin; and what
happens after a commit (a broker down, a receiver that raises) never undoes it in anyone's eyes.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import caches

from django_shipping_orders import callbacks, locks, schedules, signals
from django_shipping_orders.callbacks import chunks, queue
from django_shipping_orders.callbacks.reprocessing import reprocess
from django_shipping_orders.models import CallbackReceipt, Order, OrderEvent

from .conftest import order_document, post, webhook

pytestmark = pytest.mark.django_db(transaction=True)

Status = CallbackReceipt.Status


@pytest.fixture
def deferred(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.SHIPPING_ORDERS = {**settings.SHIPPING_ORDERS, "CALLBACK_PROCESSING": "deferred"}
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kw: None)


def test_a_receipt_reprocessed_while_the_drain_holds_it_is_applied_once(
    client, deferred, monkeypatch
):
    for index in range(3):
        post(client, webhook(f"PPONE{index}"))
    first = CallbackReceipt.objects.order_by("pk").first()
    assert first is not None
    real = chunks.process_chunk

    def someone_else_first(chunk: Any) -> Any:
        # The admin's "process again" lands between the drain's read and its chunk.
        reprocess([first.pk])
        return real(chunk)

    monkeypatch.setattr(chunks, "process_chunk", someone_else_first)
    counts = callbacks.process_pending()

    assert counts == {"processed": 3}, "the drain reports what its run found"
    for receipt in CallbackReceipt.objects.all():
        assert receipt.status == Status.PROCESSED, (receipt.pk, receipt.error)
        assert receipt.attempts == 1, "applied once: by one run"
        assert f"duplicate of receipt {receipt.pk}" not in receipt.error
    assert OrderEvent.objects.count() == 3


def test_a_run_holding_an_old_copy_of_a_receipt_changes_nothing(client, deferred):
    post(client, webhook("PPSTALECOPY"))
    old_copy = CallbackReceipt.objects.get()
    callbacks.process_pending()
    done = CallbackReceipt.objects.get()

    result = callbacks.process_receipt(old_copy)

    assert result.status == Status.PROCESSED
    again = CallbackReceipt.objects.get()
    assert (again.attempts, again.status, again.processed_at) == (
        1,
        Status.PROCESSED,
        done.processed_at,
    )
    assert OrderEvent.objects.count() == 1


def test_a_broker_down_after_the_commit_does_not_undo_a_drained_chunk(
    client, deferred, monkeypatch
):
    for index in range(5):
        post(client, order_document(f"PPBROKER{index}", label_url=f"https://x/{index}.pdf"))
    changed: list[str] = []
    processed: list[int] = []

    def on_state(sender: Any, order: Order, **kwargs: Any) -> None:
        changed.append(order.reference or "")

    def on_processed(sender: Any, receipt: CallbackReceipt, **kwargs: Any) -> None:
        processed.append(receipt.pk)

    signals.order_state_changed.connect(on_state)
    signals.callback_processed.connect(on_processed)

    def broker_down(order_id: int) -> None:
        raise ConnectionError("broker down at redis://:s3cret@queue:6379")

    monkeypatch.setattr(schedules, "enqueue_label_download", broker_down)
    try:
        assert callbacks.process_pending() == {"processed": 5}
    finally:
        signals.order_state_changed.disconnect(on_state)
        signals.callback_processed.disconnect(on_processed)

    assert sorted(changed) == [f"PPBROKER{i}" for i in range(5)], "every state change signalled"
    assert sorted(processed) == sorted(CallbackReceipt.objects.values_list("pk", flat=True))
    assert set(CallbackReceipt.objects.values_list("attempts", flat=True)) == {1}


def test_a_broker_down_after_an_inline_commit_leaves_the_receipt_processed(
    client, monkeypatch, caplog
):
    def broker_down(order_id: int) -> None:
        raise ConnectionError("broker down at redis://:s3cret@queue:6379")

    monkeypatch.setattr(schedules, "enqueue_label_download", broker_down)
    response = post(client, order_document("PPINLINEBROKER", label_url="https://x/l.pdf"))

    assert response.status_code == 200
    assert CallbackReceipt.objects.get().status == Status.PROCESSED
    assert Order.objects.get(reference="PPINLINEBROKER").label_url
    assert "s3cret" not in caplog.text
    assert "the next refresh will" in caplog.text


def test_a_killed_drain_holds_up_the_next_for_the_guard_s_short_timeout_only(deferred):
    cache = caches["default"]
    # A drain killed midway left its lock behind: it lives DRAIN_GUARD seconds, not 15 minutes.
    with locks.overlap_guard("process_pending_callbacks", timeout=queue.DRAIN_GUARD) as guard:
        assert guard
        key = "shipping_orders:guard:process_pending_callbacks"
        assert cache.get(key)
        assert queue.DRAIN_GUARD <= 120 < locks.GUARD_TIMEOUT
        # Renewing keeps it while the drain works.
        guard.renew()
        assert cache.get(key)


def test_reprocess_failed_beside_a_catching_up_drain_applies_each_receipt_once(
    client, deferred, monkeypatch
):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from django_shipping_orders.callbacks import reprocessing

    for index in range(3):
        post(client, webhook(f"PPCRON{index}"))
    # Left waiting for over ten minutes (qcluster was down): what --failed takes.
    CallbackReceipt.objects.update(received_at=timezone.now() - timedelta(minutes=30))
    real = reprocessing.process_receipt
    drained: list[dict[str, int]] = []

    def drain_catches_up_first(receipt: CallbackReceipt, **kwargs: Any) -> Any:
        if not drained:
            drained.append(callbacks.process_pending())  # qcluster is back
        return real(receipt, **kwargs)

    monkeypatch.setattr(reprocessing, "process_receipt", drain_catches_up_first)
    out = __import__("io").StringIO()
    call_command("reprocess_shipping_callbacks", "--failed", stdout=out)

    assert drained == [{"processed": 3}]
    assert "2 processed by another run meanwhile were left as they are" in out.getvalue()
    for receipt in CallbackReceipt.objects.all():
        assert (receipt.status, receipt.attempts, receipt.error) == (Status.PROCESSED, 1, "")
    assert OrderEvent.objects.count() == 3
