"""The raw UPDATE of unchanged fetches writes exactly what the ORM path writes, and the schedule clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.utils import timezone as dj_timezone

from django_shipping_orders import schedules, sync
from django_shipping_orders.documents import parse_order_document
from django_shipping_orders.models import Order, Source

from .helpers import documented_payload

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
COLUMNS = ["last_synced_at", "next_refresh_at", "refresh_failures", "last_error", "updated_at"]


def _two_failed_orders():
    rows = []
    for reference in ("PPRAW1", "PPRAW2"):
        sync.apply_document(
            "default", parse_order_document(documented_payload(reference)), Source.REFRESH
        )
        order = Order.objects.get(reference=reference)
        Order.objects.filter(pk=order.pk).update(
            refresh_failures=3, last_error="boom", lease_expires_at=T0 + timedelta(minutes=5)
        )
        rows.append(Order.objects.get(pk=order.pk))
    return rows


def _columns(order):
    order.refresh_from_db()
    names = [*COLUMNS, "lease_expires_at", "state_as_of", "data_as_of"]
    return {name: getattr(order, name) for name in names}


def test_record_unchanged_fetches_writes_what_the_orm_writes(time_machine):
    raw_order, orm_order = _two_failed_orders()
    now = dj_timezone.now()
    next_at = now + timedelta(hours=2)

    sync.record_unchanged_fetches([(raw_order, next_at, now)], now)

    # The same bookkeeping through the ORM, as apply_document writes it for a duplicate.
    Order.objects.filter(pk=orm_order.pk, updated_at=orm_order.updated_at).update(
        last_synced_at=now,
        next_refresh_at=next_at,
        refresh_failures=0,
        last_error="",
        updated_at=now,
        lease_expires_at=None,
        state_as_of=now,
        data_as_of=now,
    )
    assert _columns(raw_order) == _columns(orm_order)
    assert _columns(raw_order)["lease_expires_at"] is None
    assert _columns(raw_order)["refresh_failures"] == 0
    assert _columns(raw_order)["state_as_of"] == now


def test_record_unchanged_fetches_never_moves_a_clock_back():
    order, _ = _two_failed_orders()
    stored = order.state_as_of

    sync.record_unchanged_fetches([(order, None, stored - timedelta(hours=1))], dj_timezone.now())

    order.refresh_from_db()
    assert (order.state_as_of, order.data_as_of) == (stored, stored)


def test_record_unchanged_fetches_leaves_a_row_changed_since_it_was_claimed():
    claimed, _ = _two_failed_orders()
    # A callback writes the row after the refresh claimed it.
    Order.objects.filter(pk=claimed.pk).update(updated_at=dj_timezone.now() + timedelta(seconds=1))
    before = _columns(Order.objects.get(pk=claimed.pk))

    sync.record_unchanged_fetches(
        [(claimed, dj_timezone.now(), dj_timezone.now())], dj_timezone.now()
    )

    assert _columns(Order.objects.get(pk=claimed.pk)) == before
    assert before["refresh_failures"] == 3


def test_a_scheduled_time_without_an_offset_is_read_as_utc(time_machine):
    time_machine.move_to(T0)
    assert schedules.is_late("2026-01-05T08:58:30") is False
    assert schedules.is_late("2026-01-05T08:50:00") is True
    assert schedules.is_late(datetime(2026, 1, 5, 8, 50)) is True
