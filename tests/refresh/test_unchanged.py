"""Unchanged answers: only the bookkeeping moves, in a few statements, and never over newer data."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_shipping_orders import refresh, services
from django_shipping_orders.models import Order, OrderEvent, Source
from django_shipping_orders.providers import get_provider
from django_shipping_orders.sync import apply_document, normalize_json

from .conftest import ORDER

pytestmark = pytest.mark.django_db(transaction=True)


def placed_and_mirrored(sandbox, count: int) -> list[Order]:
    orders = [services.place_order("default", ORDER) for _ in range(count)]
    sandbox.advance(30 * 60)  # processed at the provider: labelled, courier known
    make_due(*orders)
    assert refresh.refresh_due().changed == count
    return list(Order.objects.filter(pk__in=[o.pk for o in orders]).order_by("pk"))


def make_due(*orders: Order) -> None:
    past = timezone.now() - timedelta(seconds=1)
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(next_refresh_at=past)


def test_an_unchanged_answer_moves_only_the_bookkeeping_and_gives_the_lease_back(
    sandbox, sandbox_settings
):
    (order,) = placed_and_mirrored(sandbox, 1)
    events = OrderEvent.objects.filter(order=order).count()
    Order.objects.filter(pk=order.pk).update(refresh_failures=2, last_error="earlier fault")
    make_due(order)

    summary = refresh.refresh_due()

    after = Order.objects.get(pk=order.pk)
    assert (summary.fetched, summary.changed, summary.unchanged) == (1, 0, 1)
    assert after.raw == order.raw and after.state == order.state
    # The provider confirmed what is stored: the order clock moves, the data does not.
    assert after.state_as_of > order.state_as_of and after.data_as_of > order.data_as_of
    assert after.last_synced_at > order.last_synced_at
    assert after.next_refresh_at > timezone.now()
    assert (after.refresh_failures, after.last_error) == (0, "")
    assert after.lease_expires_at is None
    assert OrderEvent.objects.filter(order=order).count() == events


def test_the_bookkeeping_of_unchanged_orders_takes_the_same_statements_for_5_or_20(
    sandbox, sandbox_settings
):
    orders = placed_and_mirrored(sandbox, 20)

    def statements(batch: list[Order]) -> int:
        make_due(*batch)
        with CaptureQueriesContext(connection) as queries:
            summary = refresh.refresh_due(workers=1)
        assert summary.unchanged == len(batch)
        return len(queries)

    assert statements(orders[:5]) == statements(orders)
    assert not Order.objects.filter(lease_expires_at__isnull=False).exists()


def test_a_callback_applied_while_the_order_is_fetched_is_not_overwritten(
    sandbox, sandbox_settings, monkeypatch
):
    (order,) = placed_and_mirrored(sandbox, 1)
    make_due(order)
    provider = get_provider("default")
    fetch = provider.get_order

    def fetch_then_callback(reference: str):
        document = fetch(reference)  # the same payload as stored: unchanged
        news = provider.parse_document(
            {"tracking_number": reference, "current_state": "with_driver"}
        )
        apply_document("default", news, Source.CALLBACK)
        return document

    monkeypatch.setattr(provider, "get_order", fetch_then_callback)
    summary = refresh.refresh_due(workers=1)
    after = Order.objects.get(pk=order.pk)
    assert (summary.fetched, summary.failed) == (1, 0)
    assert after.state == "with_driver", "the older poll did not undo the callback"
    assert after.lease_expires_at is None


def test_a_column_a_callback_set_from_another_key_is_set_back_by_the_next_poll(
    sandbox, sandbox_settings
):
    """The courier is read from ``courier_allocation`` or ``courier_name``: a poll naming the
    same allocation as the stored payload still changes the courier a webhook renamed."""
    (order,) = placed_and_mirrored(sandbox, 1)
    polled = order.courier
    other = "Toll" if polled != "toll" else "Aramex"
    webhook = {"tracking_number": order.reference, "courier_name": other}
    apply_document("default", get_provider("default").parse_document(webhook), Source.CALLBACK)
    assert Order.objects.get(pk=order.pk).courier == other.lower()
    make_due(order)

    summary = refresh.refresh_due()

    assert (summary.changed, summary.unchanged) == (1, 0)
    assert Order.objects.get(pk=order.pk).courier == polled


def test_a_changed_answer_is_applied(sandbox, sandbox_settings):
    (order,) = placed_and_mirrored(sandbox, 1)
    Order.objects.filter(pk=order.pk).update(receiver_name="Someone Else")
    make_due(order)
    stored = Order.objects.get(pk=order.pk).raw
    stored["receiver_name"] = "Someone Else"
    Order.objects.filter(pk=order.pk).update(raw=stored)

    summary = refresh.refresh_due()

    assert (summary.changed, summary.unchanged) == (1, 0)
    assert Order.objects.get(pk=order.pk).receiver_name == ORDER["receiver_name"]


@pytest.mark.parametrize(
    ("received", "stored", "same"),
    [
        ({"price": Decimal("9.99")}, {"price": 9.99}, True),
        ({"weight": Decimal("1.0")}, {"weight": 1.0}, True),
        ({"qty": Decimal("2")}, {"qty": 2}, True),
        ({"qty": 2}, {"qty": 2.0}, True),
        ({"price": Decimal("9.99")}, {"price": 9.98}, False),
        ({"a": [1, {"b": "x"}]}, {"a": [1, {"b": "x"}]}, True),
        ({"a": [1, {"b": "x"}]}, {"a": [1, {"b": "y"}]}, False),
        ({"a": [1, 2]}, {"a": [1]}, False),
        ({"a": 1}, {"a": 1, "b": None}, False),
        ({"a": None}, {"b": None}, False),
        ({"a": "1"}, {"a": 1}, False),
        ({"a": {"b": Decimal("0.1")}}, {"a": {"b": 0.1}}, True),
    ],
)
def test_the_unchanged_check_agrees_with_the_stored_json(received, stored, same):
    assert refresh.unchanged.same_json(received, stored) is same
    assert (normalize_json(received) == stored) is same
