"""Booking answers that do not say what the shop hoped: only confirmed orders are booked.

The provider's answer lists one entry per courier manifest; an order is
booked only when an entry names it, or when a successful entry names no
orders and is for the order's courier. Junk numbers in the answer never
stop the booking from being recorded.
"""

from __future__ import annotations

import pytest

from django_shipping_orders import services
from django_shipping_orders.models import Manifest, Order

from .test_admin import messages_of, run_action

pytestmark = pytest.mark.django_db

EPARCEL = {
    "courier": "eParcel Express",
    "manifest": "ABC0000214",
    "manifest_pdf": "",
    "order_count": 2,
    "success": True,
}


@pytest.fixture
def eparcel_and_fastway(make_order, label_account):
    return (
        make_order(account=label_account, state="ready_for_pickup", courier="eparcelexpress"),
        make_order(account=label_account, state="ready_for_pickup", courier="fastway"),
    )


def test_an_order_of_a_courier_the_answer_does_not_mention_is_not_booked(
    eparcel_and_fastway, scripted_server
):
    eparcel, fastway = eparcel_and_fastway
    scripted_server.add(200, {"response": [EPARCEL]})

    outcome = services.book_orders("labels", [eparcel, fastway])

    assert [o.pk for o in outcome.booked] == [eparcel.pk]
    eparcel.refresh_from_db()
    fastway.refresh_from_db()
    assert eparcel.booked_at is not None and eparcel.manifest.number == "ABC0000214"
    assert fastway.booked_at is None and fastway.manifest is None
    assert "not confirmed by the provider" in fastway.booking_error


def test_an_entry_naming_its_orders_books_those_whatever_their_courier(
    eparcel_and_fastway, scripted_server
):
    eparcel, fastway = eparcel_and_fastway
    scripted_server.add(200, {"response": [dict(EPARCEL, orders=[fastway.reference])]})

    outcome = services.book_orders("labels", [eparcel, fastway])

    assert [o.pk for o in outcome.booked] == [fastway.pk]
    assert "not confirmed by the provider" in Order.objects.get(pk=eparcel.pk).booking_error


def test_the_courier_spelled_australia_post_eparcel_express_is_the_same_courier(
    make_order, label_account, scripted_server
):
    order = make_order(
        account=label_account,
        state="ready_for_pickup",
        courier_name="Australia Post eParcel Express",
    )
    from django_shipping_orders.couriers import normalize

    Order.objects.filter(pk=order.pk).update(courier=normalize(order.courier_name))
    order.refresh_from_db()
    scripted_server.add(200, {"response": [EPARCEL]})

    outcome = services.book_orders("labels", [order])

    assert [o.pk for o in outcome.booked] == [order.pk]


@pytest.mark.parametrize(("count", "stored"), [(-1, None), (10**20, None), ("2", 2), (2.5, None)])
def test_a_junk_order_count_still_records_the_booking(
    eparcel_and_fastway, scripted_server, count, stored
):
    eparcel, _ = eparcel_and_fastway
    scripted_server.add(200, {"response": [dict(EPARCEL, order_count=count)]})

    outcome = services.book_orders("labels", [eparcel])

    assert [o.pk for o in outcome.booked] == [eparcel.pk]
    manifest = Manifest.objects.get()
    assert manifest.order_count == stored
    assert manifest.raw["order_count"] == count
    assert Order.objects.get(pk=eparcel.pk).booked_at is not None


def test_the_admin_action_with_a_negative_order_count_books_and_reports(
    client, clerk, eparcel_and_fastway, scripted_server
):
    eparcel, _ = eparcel_and_fastway
    scripted_server.add(200, {"response": [dict(EPARCEL, order_count=-1)]})
    client.force_login(clerk)

    response = run_action(client, "book_for_pickup", [eparcel])

    assert response.status_code == 302
    assert Order.objects.get(pk=eparcel.pk).booked_at is not None
    assert any("Booked 1 order" in line for line in messages_of(response))
