"""The refresh engine against the sandbox: claiming, leases, the rate budget, failures."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import caches
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from django_shipping_orders import refresh, services
from django_shipping_orders.models import Order, Source
from django_shipping_orders.policy import PolicySettings
from django_shipping_orders.providers import get_provider
from django_shipping_orders.sync import apply_document

from .conftest import ORDER, claim_concurrently, sandbox_accounts

pytestmark = pytest.mark.django_db(transaction=True)

P = PolicySettings()


def place(count: int) -> list[Order]:
    return [services.place_order("default", ORDER) for _ in range(count)]


def make_due(*orders: Order) -> None:
    past = timezone.now() - timedelta(seconds=1)
    queryset = (
        Order.objects.filter(pk__in=[o.pk for o in orders]) if orders else Order.objects.all()
    )
    queryset.update(next_refresh_at=past)


def get_calls(sandbox, reference: str) -> int:
    order = sandbox.world.orders[reference]
    return sum(count for route, count in order.calls.items() if route.startswith("GET"))


def test_due_orders_are_fetched_and_the_others_left_alone(sandbox, sandbox_settings):
    orders = place(4)
    make_due(*orders[:3])
    summary = refresh.refresh_due()
    assert (summary.selected, summary.fetched, summary.failed) == (3, 3, 0)
    assert [get_calls(sandbox, o.reference) for o in orders] == [1, 1, 1, 0]
    for order in orders[:3]:
        order.refresh_from_db()
        assert order.last_synced_at is not None
        assert order.next_refresh_at > timezone.now()
        assert order.lease_expires_at is None, "the lease is given back when done"


def test_nothing_is_polled_during_the_grace_period(sandbox, sandbox_settings):
    orders = place(2)
    assert refresh.refresh_due().fetched == 0
    with time_machine.travel(timezone.now() + timedelta(seconds=P.GRACE_PERIOD + 1)):
        assert refresh.refresh_due().fetched == 2
    assert all(get_calls(sandbox, o.reference) == 1 for o in orders)


def test_changed_and_unchanged_orders_are_counted(sandbox, sandbox_settings):
    orders = place(3)
    sandbox.advance(30 * 60)  # the provider has processed them all
    make_due(*orders)
    first = refresh.refresh_due()
    assert (first.fetched, first.changed, first.unchanged) == (3, 3, 0)
    make_due(*orders)
    second = refresh.refresh_due()
    assert (second.fetched, second.changed, second.unchanged) == (3, 0, 3)
    order = Order.objects.get(pk=orders[0].pk)
    assert order.courier_job_id and order.state != "processing"


def test_limit_takes_the_oldest_due_first(sandbox, sandbox_settings):
    orders = place(5)
    now = timezone.now()
    for age, order in enumerate(orders):
        Order.objects.filter(pk=order.pk).update(next_refresh_at=now - timedelta(minutes=age + 1))
    summary = refresh.refresh_due(limit=2)
    assert summary.fetched == 2
    fetched = [o for o in orders if get_calls(sandbox, o.reference)]
    assert fetched == orders[3:], "the two that were due longest"


def test_the_rate_budget_caps_a_batch_and_reports_the_rest(sandbox):
    with override_settings(SHIPPING_ORDERS=sandbox_accounts(sandbox.shippit_url)):
        orders = place(12)
    caches["default"].clear()  # the placements counted against the same key
    with override_settings(SHIPPING_ORDERS=sandbox_accounts(sandbox.shippit_url, RATE_LIMIT="5/h")):
        make_due(*orders)
        summary = refresh.refresh_due()
    assert (summary.fetched, summary.skipped_rate_limited) == (5, 7)
    assert sum(get_calls(sandbox, o.reference) for o in orders) == 5
    still_due = Order.objects.filter(next_refresh_at__lte=timezone.now(), lease_expires_at=None)
    assert still_due.count() == 7


def test_wait_sleeps_for_the_budget_until_everything_is_fetched(sandbox):
    with override_settings(SHIPPING_ORDERS=sandbox_accounts(sandbox.shippit_url)):
        orders = place(14)
    caches["default"].clear()  # the placements counted against the same key
    with override_settings(
        SHIPPING_ORDERS=sandbox_accounts(sandbox.shippit_url, RATE_LIMIT="10/s")
    ):
        make_due(*orders)
        summary = refresh.refresh_due(wait=True)
    assert (summary.fetched, summary.skipped_rate_limited) == (14, 0)


def test_a_failure_is_recorded_with_backoff_and_the_batch_goes_on(scripted_server):
    body = {"tracking_number": "PPOK", "state": "in_transit", "courier_job_id": "C1"}
    scripted_server.add(503, {"error": "unavailable"})
    scripted_server.add(200, body)
    settings = sandbox_accounts(scripted_server.url + "/api/3")
    with override_settings(SHIPPING_ORDERS=settings):
        bad = Order.objects.create(account="default", reference="PPBAD")
        good = Order.objects.create(account="default", reference="PPOK")
        make_due(bad, good)
        summary = refresh.refresh_due(workers=1)
    assert (summary.fetched, summary.failed) == (1, 1)
    assert summary.failures[0].reference == "PPBAD"
    assert "HTTP 503" in summary.failures[0].error
    bad.refresh_from_db()
    assert bad.refresh_failures == 1 and "503" in bad.last_error
    assert bad.next_refresh_at == pytest.approx(
        timezone.now() + timedelta(seconds=P.ERROR_INITIAL), abs=timedelta(seconds=5)
    )
    assert Order.objects.get(pk=good.pk).state == "in_transit"


@pytest.mark.parametrize(
    ("status", "code"), [(404, "not_found"), (403, "invalid_merchant_account")]
)
def test_404_and_403_are_not_retried_in_a_loop(scripted_server, status, code):
    scripted_server.default = (status, {"error": code}, {})
    with override_settings(SHIPPING_ORDERS=sandbox_accounts(scripted_server.url + "/api/3")):
        order = Order.objects.create(account="default", reference="PPGONE")
        make_due(order)
        assert refresh.refresh_due().failed == 1
        assert refresh.refresh_due().selected == 0
        with time_machine.travel(timezone.now() + timedelta(seconds=P.ERROR_MAX - 60)):
            assert refresh.refresh_due().selected == 0
    order.refresh_from_db()
    assert order.next_refresh_at >= timezone.now() + timedelta(seconds=P.ERROR_MAX - 10)
    assert len(scripted_server.requests) == 1


def test_a_bug_in_the_adapter_is_recorded_not_raised(sandbox, sandbox_settings, monkeypatch):
    orders = place(2)
    make_due(*orders)

    def broken(reference):
        raise KeyError("courier")

    monkeypatch.setattr(get_provider("default"), "get_order", broken)
    summary = refresh.refresh_due()
    assert (summary.fetched, summary.failed) == (0, 2)
    assert {f.error_type for f in summary.failures} == {"KeyError"}
    assert all("KeyError: 'courier'" in o.last_error for o in Order.objects.all())


def test_an_order_of_an_account_no_longer_configured_is_not_selected(sandbox, sandbox_settings):
    Order.objects.create(account="gone", reference="PPX", next_refresh_at=timezone.now())
    assert refresh.refresh_due().selected == 0


def test_a_callback_moves_the_next_poll(sandbox, sandbox_settings):
    (order,) = place(1)
    sandbox.advance(30 * 60)
    document = get_provider("default").get_order(order.reference)
    apply_document("default", document, Source.CALLBACK)
    order.refresh_from_db()
    assert order.courier_job_id
    # Labelled by a callback: the next poll is just after pickup, hours away.
    assert order.next_refresh_at >= timezone.now() + timedelta(hours=2)
    assert refresh.refresh_due().selected == 0


# -- claiming --------------------------------------------------------------------------------


def _due_rows(count: int) -> list[int]:
    past = timezone.now() - timedelta(minutes=1)
    rows = [
        Order(account="default", reference=f"PP{i:05d}", next_refresh_at=past) for i in range(count)
    ]
    return [o.pk for o in Order.objects.bulk_create(rows)]


def _claim_concurrently(workers: int) -> list[list[int]]:
    return claim_concurrently(workers, refresh.claim)


def test_two_workers_never_claim_the_same_order(sandbox_settings):
    ids = _due_rows(300)
    first, second = _claim_concurrently(2)
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(ids)


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs DATABASE_URL=postgres://…")
def test_workers_skip_locked_rows_on_postgresql(sandbox_settings):
    ids = _due_rows(500)
    claimed = _claim_concurrently(6)
    flat = [pk for part in claimed for pk in part]
    assert len(flat) == len(set(flat)) == len(ids)
    assert sum(1 for part in claimed if part) >= 2, "the work was shared"


def test_concurrent_batches_fetch_each_order_once(sandbox, sandbox_settings):
    orders = place(40)
    make_due(*orders)
    summaries = []

    def run() -> None:
        try:
            summaries.append(refresh.refresh_due(workers=3))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(s.fetched for s in summaries) == 40
    assert [get_calls(sandbox, o.reference) for o in orders] == [1] * 40


def test_a_crashed_workers_lease_expires(sandbox_settings):
    ids = _due_rows(3)
    assert len(refresh.claim(refresh.due_orders(), limit=10)) == 3  # …and the worker dies
    assert refresh.claim(refresh.due_orders(), limit=10) == []
    with time_machine.travel(timezone.now() + timedelta(seconds=P.LEASE + 1)):
        again = refresh.claim(refresh.due_orders(), limit=10)
    assert sorted(o.pk for o in again) == sorted(ids)


def test_explicit_orders_are_fetched_even_when_not_due_and_busy_ones_skipped(
    sandbox, sandbox_settings
):
    orders = place(3)
    busy = refresh.claim(Order.objects.filter(pk=orders[2].pk).order_by("pk"), limit=1)
    summary = refresh.refresh_orders([o.pk for o in orders])
    assert (summary.selected, summary.fetched, summary.skipped_busy) == (3, 2, 1)
    assert busy and get_calls(sandbox, orders[2].reference) == 0


# -- a whole life, on a travelling clock -------------------------------------------------------


def test_an_order_is_polled_from_placing_to_delivery_then_never_again(sandbox, sandbox_settings):
    step = 60.0
    with time_machine.travel(sandbox.now(), tick=False) as traveller:
        (order,) = place(1)
        remote = sandbox.world.orders[order.reference]
        labelled_here = None
        for _ in range(int(2 * 24 * 3600 / step)):
            sandbox.advance(step)
            traveller.move_to(sandbox.now())
            refresh.refresh_due(workers=1)
            if (
                labelled_here is None
                and Order.objects.filter(pk=order.pk, courier_job_id__gt="").exists()
            ):
                labelled_here = sandbox.now()
        order.refresh_from_db()
    calls = get_calls(sandbox, order.reference)
    assert order.state == "completed" and order.next_refresh_at is None
    assert labelled_here - remote.processed_at <= P.PROCESSING_MAX + step
    assert 3 <= calls <= 12, f"{calls} polls for one order's whole life"
