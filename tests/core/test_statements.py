"""The hot statements write what ``save()`` and ``bulk_create`` would, on every database."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils.translation import gettext_lazy

from django_shipping_orders import statements
from django_shipping_orders.models import Order, Parcel

pytestmark = pytest.mark.django_db

WHEN = datetime(2025, 3, 1, 8, 30, 15, 250000, tzinfo=timezone.utc)


def _order(reference: str) -> Order:
    """An order with a value of every kind a column holds: text, None, numbers, dates, JSON."""
    return Order(
        account="default",
        reference=reference,
        retailer_reference=gettext_lazy("Lazy text"),  # a str subclass: prepared, not bound as is
        state="in_transit",
        receiver_name="Ana Ōsaka",
        courier_job_id="",
        refresh_failures=3,
        is_return=True,
        state_as_of=WHEN,
        pickup_at=None,
        features={"authority_to_leave": True, "amount": Decimal("12.50")},
        raw={"nested": [1, 2.5, "three"]},
        tracking_url="https://track.example.com/PPX",
    )


def _row(reference: str) -> dict[str, object]:
    row = Order.objects.values().get(reference=reference)
    for key in ("id", "reference", "submission_id", "created_at", "updated_at"):
        row.pop(key)
    return row


def test_insert_writes_the_row_save_writes():
    saved = _order("PPSAVED")
    saved.save()
    inserted = _order("PPINSERTED")

    assert statements.insert(inserted, using="default") is True

    assert inserted.pk is not None and not inserted._state.adding
    assert _row("PPINSERTED") == _row("PPSAVED")
    assert _row("PPINSERTED")["retailer_reference"] == "Lazy text"
    assert _row("PPINSERTED")["state_as_of"] == WHEN


def test_insert_unless_the_key_is_taken_returns_false_and_keeps_the_transaction_usable():
    Order.objects.create(account="default", reference="PPTAKEN", receiver_name="First")

    with transaction.atomic():
        second = Order(account="default", reference="PPTAKEN", receiver_name="Second")
        assert statements.insert(second, using="default", unless=("account", "reference")) is False
        # Still usable: the same transaction reads and writes on.
        Order.objects.filter(reference="PPTAKEN").update(receiver_name="Updated")

    assert second.pk is None
    assert list(
        Order.objects.filter(reference="PPTAKEN").values_list("receiver_name", flat=True)
    ) == ["Updated"]


def test_insert_unless_inserts_a_new_key():
    fresh = Order(account="default", reference="PPFRESH", submission_id=uuid.uuid4())

    assert statements.insert(fresh, using="default", unless=("account", "reference")) is True

    assert Order.objects.get(reference="PPFRESH").pk == fresh.pk


def test_insert_rows_writes_more_rows_than_one_statement_takes_parameters_for():
    order = Order.objects.create(account="default", reference="PPMANY")
    count = 3000  # x 10 columns: past SQLite's parameter limit, so several statements
    rows = [
        Parcel(order=order, position=i, qty=1, weight=Decimal("1.25"), label_number=f"L{i}")
        for i in range(count)
    ]

    statements.insert_rows(rows, using="default")

    stored = Parcel.objects.filter(order=order)
    assert stored.count() == count
    assert sorted(stored.values_list("position", flat=True)) == list(range(count))
    assert stored.get(position=2999).label_number == "L2999"
    assert stored.get(position=0).weight == Decimal("1.25")


def test_insert_rows_of_nothing_runs_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        statements.insert_rows([], using="default")


def test_update_binds_the_changed_columns_as_save_would():
    order = Order.objects.create(account="default", reference="PPUPD")
    order.receiver_name = "Changed"
    order.refresh_failures = 0
    order.pickup_at = WHEN

    assert statements.update(order, ["receiver_name", "refresh_failures", "pickup_at"], "default")

    stored = Order.objects.get(pk=order.pk)
    assert (stored.receiver_name, stored.refresh_failures, stored.pickup_at) == (
        "Changed",
        0,
        WHEN,
    )
    assert connection.vendor in {"sqlite", "postgresql", "mysql"}


def test_insert_rows_returning_writes_the_rows_bulk_create_writes_and_sets_their_keys():
    if not connection.features.can_return_rows_from_bulk_insert:
        pytest.skip("the database returns no rows from a bulk insert")
    created = Order.objects.bulk_create([_order(f"PPBULK{i}") for i in range(3)])
    inserted = [_order(f"PPROWS{i}") for i in range(3)]

    statements.insert_rows(inserted, using="default", returning=True)

    for i, (order, peer) in enumerate(zip(inserted, created, strict=True)):
        assert not order._state.adding and order._state.db == "default"
        assert Order.objects.get(pk=order.pk).reference == f"PPROWS{i}"
        assert _row(f"PPROWS{i}") == _row(peer.reference)
