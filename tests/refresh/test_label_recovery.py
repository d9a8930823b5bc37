"""A label download that fails, or is never queued, is tried again until the label is stored."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from django_shipping_orders import labels, refresh, schedules, services, tasks
from django_shipping_orders.exceptions import LabelError
from django_shipping_orders.models import Order

from .conftest import ORDER

pytestmark = pytest.mark.django_db(transaction=True)


def processed_orders(sandbox: Any, count: int) -> list[Order]:
    orders = [services.place_order("default", ORDER) for _ in range(count)]
    sandbox.advance(30 * 60)  # processed: each answer now brings a label
    make_due()
    return orders


def make_due() -> None:
    Order.objects.update(next_refresh_at=timezone.now() - timedelta(seconds=1))


def missing_labels() -> list[int]:
    """Orders the provider gave a label URL for whose label is not stored."""
    return list(Order.objects.exclude(label_url="").filter(label="").values_list("pk", flat=True))


@pytest.fixture
def broken_label_host() -> Iterator[tuple[socket.socket, list[float]]]:
    """A host that promises 100 kB of PDF, sends a few bytes, then hangs (``stall``) or hangs up."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    stall: list[float] = [0.0]

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\n"
                b"Content-Length: 100000\r\n\r\n%PDF-1.4 partial"
            )
            time.sleep(stall[0])
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield server, stall
    finally:
        server.close()


def test_labels_are_stored_after_a_broker_outage(sandbox, sandbox_settings, monkeypatch):
    processed_orders(sandbox, 5)
    real = schedules.enqueue

    def broker_down(func: str, *args: Any, task_name: str) -> None:
        if func.endswith("download_labels"):
            raise ConnectionError("broker down")
        real(func, *args, task_name=task_name)

    with monkeypatch.context() as patch:
        patch.setattr(schedules, "enqueue", broker_down)
        summary = refresh.refresh_due(spare=False)  # does not raise
    assert summary.fetched == 5
    assert not Order.objects.filter(lease_expires_at__isnull=False).exists()
    assert missing_labels(), "nothing could be queued during the outage"
    make_due()
    refresh.refresh_due(spare=False)
    assert Order.objects.exclude(label_url="").exists()
    assert missing_labels() == []


def test_a_batch_keeps_its_ids_until_they_are_queued(monkeypatch):
    batch = schedules.LabelBatch()
    batch.add(1)
    batch.add(2)
    monkeypatch.setattr(schedules, "enqueue", lambda *a, **k: (_ for _ in ()).throw(OSError()))
    assert batch.flush() == 0
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(schedules, "enqueue", lambda func, *args, task_name: queued.append(args))
    assert batch.flush() == 2
    assert queued == [([1, 2],)]
    assert batch.flush() == 0


@pytest.mark.parametrize("stall", [0.0, 3.0], ids=["truncated", "stalled"])
def test_a_bad_label_does_not_stop_the_batch(
    sandbox, sandbox_settings, monkeypatch, broken_label_host, stall
):
    server, stall_for = broken_label_host
    stall_for[0] = stall
    first, second = processed_orders(sandbox, 2)
    queued: list[tuple[Any, ...]] = []
    with monkeypatch.context() as patch:
        patch.setattr(schedules, "enqueue", lambda func, *args, task_name: queued.append(args))
        refresh.refresh_due(spare=False)
    Order.objects.filter(pk=first.pk).update(
        label_url=f"http://127.0.0.1:{server.getsockname()[1]}/labels/x.pdf"
    )
    account = {**sandbox_settings["ACCOUNTS"]["default"], "TIMEOUT": 1, "CONNECT_TIMEOUT": 1}
    with override_settings(SHIPPING_ORDERS={**sandbox_settings, "ACCOUNTS": {"default": account}}):
        assert tasks.download_labels([first.pk, second.pk]) == {"stored": 1, "not_stored": 1}
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.label and not second.label_error
    assert not first.label and "attempt 1 of" in first.label_error
    assert "127.0.0.1" in first.label_error and "/labels/x.pdf" not in first.label_error


def test_a_failed_label_is_retried_at_the_next_refresh(sandbox, sandbox_settings, monkeypatch):
    processed_orders(sandbox, 3)
    real = labels.fetch_pdf
    failed: list[int] = []

    def not_yet(provider: Any, url: str, order: Order) -> bytes:
        if not failed:
            failed.append(order.pk)
            raise LabelError("the label host answered HTTP 404.", status_code=404)
        return real(provider, url, order)

    monkeypatch.setattr(labels, "fetch_pdf", not_yet)
    refresh.refresh_due(spare=False)
    assert failed and failed[0] in missing_labels()
    assert "attempt 1 of" in Order.objects.get(pk=failed[0]).label_error
    make_due()
    refresh.refresh_due(spare=False)
    assert missing_labels() == []
    assert Order.objects.get(pk=failed[0]).label_error == ""


def test_a_label_is_given_up_after_its_attempts(sandbox, sandbox_settings, monkeypatch):
    (order,) = processed_orders(sandbox, 1)

    def gone(provider: Any, url: str, order: Order) -> bytes:
        raise LabelError("the label host answered HTTP 404.", status_code=404)

    monkeypatch.setattr(labels, "fetch_pdf", gone)
    tried: list[list[int]] = []
    real = tasks.download_labels
    monkeypatch.setattr(tasks, "download_labels", lambda ids: tried.append(ids) or real(ids))
    for _ in range(schedules.LABEL_ATTEMPTS + 2):
        refresh.refresh_due(spare=False)
        make_due()
    order.refresh_from_db()
    assert not order.label
    assert order.label_error.startswith(f"Label given up after {schedules.LABEL_ATTEMPTS}")
    assert len(tried) == schedules.LABEL_ATTEMPTS


def test_a_download_waiting_in_the_broker_is_not_queued_again_by_each_refresh(
    sandbox, sandbox_settings, monkeypatch
):
    (order,) = processed_orders(sandbox, 1)
    queued: list[tuple[str, tuple[Any, ...]]] = []
    # An asynchronous broker: the task waits there, nothing runs it yet.
    monkeypatch.setattr(schedules, "enqueue", lambda func, *args, **kw: queued.append((func, args)))
    for _ in range(4):
        refresh.refresh_due(spare=False)
        make_due()
    assert [args for _, args in queued] == [([order.pk],)], "queued once, not at every refresh"

    # The worker runs it at last: the label is stored, and nothing is queued any more.
    tasks.download_labels(*queued[0][1])
    assert missing_labels() == []
    refresh.refresh_due(spare=False)
    assert len(queued) == 1


def test_a_download_lost_on_the_way_is_queued_again_after_a_while(
    sandbox, sandbox_settings, monkeypatch
):
    (order,) = processed_orders(sandbox, 1)
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(schedules, "enqueue", lambda func, *args, **kw: queued.append(args))
    monkeypatch.setattr(schedules, "LABEL_QUEUED_FOR", 1)
    refresh.refresh_due(spare=False)
    make_due()
    refresh.refresh_due(spare=False)
    assert len(queued) == 1
    time.sleep(1.2)  # the task never ran (a broker restarted without it): its mark expires
    make_due()
    refresh.refresh_due(spare=False)
    assert queued == [([order.pk],), ([order.pk],)]


def test_a_failed_download_clears_its_mark_so_the_next_refresh_retries_it(
    sandbox, sandbox_settings, monkeypatch
):
    (order,) = processed_orders(sandbox, 1)

    def down(provider: Any, url: str, order: Order) -> bytes:
        raise LabelError("the label host answered HTTP 503.", status_code=503)

    monkeypatch.setattr(labels, "fetch_pdf", down)
    tried: list[list[int]] = []
    real = tasks.download_labels
    monkeypatch.setattr(tasks, "download_labels", lambda ids: tried.append(ids) or real(ids))
    refresh.refresh_due(spare=False)
    make_due()
    refresh.refresh_due(spare=False)
    assert tried == [[order.pk], [order.pk]]
    assert "attempt 2 of" in Order.objects.get(pk=order.pk).label_error


def _without_label_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """Get Order answers without ``label_url`` (as Shippit documents it; the sandbox adds one)."""
    from django_shipping_orders.providers import base

    real = base.Provider.parse_document

    def parse(self: Any, payload: Any) -> Any:
        if isinstance(payload, dict):
            payload = {k: v for k, v in payload.items() if k != "label_url"}
        return real(self, payload)

    monkeypatch.setattr(base.Provider, "parse_document", parse)


def test_an_order_known_by_its_courier_number_only_is_retried_until_its_label_is_stored(
    sandbox, sandbox_settings, monkeypatch
):
    _without_label_url(monkeypatch)
    (order,) = processed_orders(sandbox, 1)
    real = labels.fetch_pdf
    failures = [2]

    def flaky(provider: Any, url: str, order: Order) -> bytes:
        if failures[0]:
            failures[0] -= 1
            raise LabelError("the label host answered HTTP 503.", status_code=503)
        return real(provider, url, order)

    monkeypatch.setattr(labels, "fetch_pdf", flaky)
    for _ in range(4):
        refresh.refresh_due(spare=False)
        make_due()
    order.refresh_from_db()
    assert order.courier_job_id and not order.label_url, "the label URL comes from the endpoint"
    assert order.label and order.label_error == ""


def test_a_refused_label_url_is_a_failure_at_once_and_not_retried(
    sandbox, sandbox_settings, monkeypatch
):
    accounts = {**sandbox_settings}
    accounts["ACCOUNTS"] = {
        alias: {**account, "LABEL_HOSTS": ["labels.example.com"]}
        for alias, account in sandbox_settings["ACCOUNTS"].items()
    }
    tried: list[list[int]] = []
    real = tasks.download_labels
    monkeypatch.setattr(tasks, "download_labels", lambda ids: tried.append(ids) or real(ids))
    with override_settings(SHIPPING_ORDERS=accounts):
        (order,) = processed_orders(sandbox, 1)
        for _ in range(3):
            refresh.refresh_due(spare=False)
            make_due()
        from django.core.management import CommandError, call_command

        out = __import__("io").StringIO()
        with pytest.raises(CommandError, match="unhealthy"):
            call_command("shipping_orders_status", "--json", stdout=out)
    order.refresh_from_db()
    assert order.label_error.startswith("Label refused, not retried:")
    assert "LABEL_HOSTS" in order.label_error
    assert len(tried) == 1, "a refused URL is not tried again by the refresh"
    figures = __import__("json").loads(out.getvalue())["accounts"]["default"]
    assert (figures["labels_failed"], figures["labels_retrying"]) == (1, 0)
