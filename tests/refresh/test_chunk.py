"""A chunk of fetched answers is applied in one transaction, its label downloads queued as one task."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_shipping_orders import refresh, schedules, services, tasks
from django_shipping_orders.models import Order
from django_shipping_orders.providers import get_provider
from django_shipping_orders.sync import ChunkItem, apply_documents

from .conftest import ORDER

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    calls: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(
        schedules, "enqueue", lambda func, *args, task_name: calls.append((func, args))
    )
    return calls


def processed_orders(sandbox: Any, count: int) -> list[Order]:
    orders = [services.place_order("default", ORDER) for _ in range(count)]
    sandbox.advance(30 * 60)  # processed: each answer now brings a label
    Order.objects.update(next_refresh_at=timezone.now() - timedelta(seconds=1))
    return orders


def test_a_first_sync_queues_one_task_for_all_its_labels(sandbox, sandbox_settings, queued):
    orders = processed_orders(sandbox, 6)
    queued.clear()
    summary = refresh.refresh_due()
    assert (summary.fetched, summary.changed) == (6, 6)
    assert [func for func, _ in queued] == ["django_shipping_orders.tasks.download_labels"]
    assert sorted(queued[0][1][0]) == sorted(o.pk for o in orders)


def test_a_chunk_commits_once(sandbox, sandbox_settings, queued):
    orders = processed_orders(sandbox, 4)
    provider = get_provider("default")
    items = [ChunkItem("default", provider.get_order(o.reference), key=o.pk) for o in orders]
    with CaptureQueriesContext(connection) as captured:
        results = apply_documents(items, "refresh")
    assert all(not isinstance(r, Exception) and r.changed for r in results)
    savepoints = [q for q in captured if q["sql"].upper().startswith("SAVEPOINT")]
    assert len(savepoints) >= len(orders), "each document in a savepoint of its own"
    assert len(queued) == 1


def test_a_failing_document_is_undone_alone(sandbox, sandbox_settings, queued, monkeypatch):
    orders = processed_orders(sandbox, 3)
    provider = get_provider("default")
    documents = [provider.get_order(o.reference) for o in orders]
    from django_shipping_orders.sync import apply as apply_module

    real = apply_module._apply_fields

    def broken(order: Order, document: Any) -> list[str]:
        if document.reference == orders[1].reference:
            raise RuntimeError("adapter bug")
        return real(order, document)

    monkeypatch.setattr(apply_module, "_apply_fields", broken)
    results = apply_documents([ChunkItem("default", d) for d in documents], "refresh")
    assert [isinstance(r, Exception) for r in results] == [False, True, False]
    states = [Order.objects.get(pk=o.pk).courier_job_id for o in orders]
    assert bool(states[0]) and not states[1] and bool(states[2])
    assert queued[0][1][0] == sorted([orders[0].pk, orders[2].pk])


def test_download_labels_counts_each_order(monkeypatch):
    outcomes = {1: "stored labels/1.pdf", 2: "not stored: expired", 3: "stored labels/3.pdf"}
    monkeypatch.setattr(tasks, "download_label", lambda order_id: outcomes[order_id])
    assert tasks.download_labels([1, 2, 3]) == {"stored": 2, "not_stored": 1}


def test_without_a_batch_each_label_is_its_own_task(queued):
    schedules.enqueue_label_download(5)
    batch = schedules.LabelBatch()
    with schedules.collecting_labels(batch):
        schedules.enqueue_label_download(6)
        schedules.enqueue_label_download(7)
        schedules.enqueue_label_download(6)
    assert queued == [("django_shipping_orders.tasks.download_label", (5,))]
    assert batch.flush() == 2
    assert queued[1] == ("django_shipping_orders.tasks.download_labels", ([6, 7],))
    assert batch.flush() == 0
