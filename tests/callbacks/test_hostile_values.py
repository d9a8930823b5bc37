"""Callbacks carrying numbers no column can hold, odd state spellings and shipped products.

Each test posts what a hostile or sloppy provider could send and checks what
a person would see afterwards: the orders list still opens, the order still
syncs, the value the provider sent is still in ``raw``, and a warning says
what was not stored.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client

from django_shipping_orders.models import CallbackReceipt, Order, Product

from .conftest import order_document, post, webhook

pytestmark = pytest.mark.django_db


def _admin_client() -> Client:
    user = User.objects.create_superuser("boss", "boss@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("price", ["1E+20", "9999999999.99995", "10000000000", 1e20])
def test_a_price_beyond_its_column_is_left_unset_and_every_order_stays_readable(client, price):
    for number in range(2):
        post(client, {"tracking_number": f"PPOK{number}", "current_state": "in_transit"})

    response = post(
        client, {"tracking_number": "PPHUGE", "current_state": "in_transit", "price": price}
    )

    assert response.status_code == 200
    assert response.json()["status"] == "processed"
    assert len(list(Order.objects.all())) == 3  # nothing unreadable on any database
    order = Order.objects.get(reference="PPHUGE")
    assert order.price is None
    assert order.state == "in_transit"
    assert "price" in order.data_warnings and "raw" in order.data_warnings
    assert order.raw["price"] == (price if isinstance(price, str) else 100000000000000000000)
    receipt = CallbackReceipt.objects.get(reference="PPHUGE")
    assert receipt.status == "processed" and "price" in receipt.error
    admin = _admin_client()
    assert admin.get("/admin/shipping_orders/order/").status_code == 200
    page = admin.get(f"/admin/shipping_orders/order/{order.pk}/change/")
    assert page.status_code == 200 and "kept in raw" in page.text


def test_the_order_syncs_again_after_an_out_of_range_price(client):
    # Dated before the next webhook's history: the order clock lets the newer one in.
    first = {"tracking_number": "PPAGAIN", "current_state": "in_transit", "price": "1E+20"}
    first["status_history"] = [{"status": "in_transit", "time": "2015-01-01T00:00:00+00:00"}]
    post(client, first)
    body = webhook("PPAGAIN", upto="with_driver", price="15.95")

    response = post(client, body)

    assert response.json()["status"] == "processed"
    order = Order.objects.get(reference="PPAGAIN")
    assert (order.state, str(order.price)) == ("with_driver", "15.9500")


def test_a_number_json_cannot_hold_is_refused_before_it_is_read(client):
    raw_body = (
        b'{"tracking_number": "PPINF", "current_state": "in_transit", '
        b'"merchant_score": 1.5e400, "delivery_latitude": -33.77}'
    )

    response = post(client, raw_body)

    assert response.status_code == 400
    assert response.json()["error"] == "number_too_large"
    assert CallbackReceipt.objects.get().status == "unprocessable"
    assert not Order.objects.filter(reference="PPINF").exists()


def test_a_huge_product_quantity_is_left_unset_with_a_warning(client):
    body = {
        "tracking_number": "PPQTY",
        "state": "processing",
        "parcel_attributes": [{"qty": 10**12, "weight": 1}],
        "product_attributes": [{"title": "Mug", "sku": "MUG", "quantity": 10**12}],
    }

    response = post(client, body)

    assert response.json()["status"] == "processed"
    order = Order.objects.get(reference="PPQTY")
    line = order.products.get()
    assert line.quantity is None and line.raw["quantity"] == 10**12
    assert order.parcels.get().qty is None
    assert "product_attributes[0].quantity" in order.data_warnings


@pytest.mark.parametrize("spelled", ["COMPLETED", "Completed ", "completed\u200b", "Completed"])
def test_a_state_in_another_case_is_the_known_state(client, spelled):
    body = webhook("PPCASE", upto="completed")
    body["current_state"] = spelled
    body["status_history"][0]["status"] = spelled

    post(client, body)

    order = Order.objects.get(reference="PPCASE")
    assert order.state == "completed"
    assert order.is_final and order.next_refresh_at is None
    assert not Order.objects.open().filter(pk=order.pk).exists()
    assert order.raw["current_state"] == spelled


def test_a_state_with_spaces_and_hyphens_reads_with_underscores(client):
    post(client, {"tracking_number": "PPSP", "current_state": "Ready For-Pickup"})

    assert Order.objects.get(reference="PPSP").state == "ready_for_pickup"


# -- what shipped ------------------------------------------------------------------------------


def _order_with_lines(reference: str, lines: list[tuple[str, str, int]]) -> Order:
    order = Order.objects.create(account="default", reference=reference, state="processing")
    Product.objects.bulk_create(
        Product(order=order, position=i, title=title, sku=sku, quantity=quantity)
        for i, (title, sku, quantity) in enumerate(lines)
    )
    return order


def _shipped(order: Order) -> list[tuple[str, int | None, int | None]]:
    return list(
        order.products.order_by("position").values_list("title", "quantity", "quantity_shipped")
    )


def test_a_slightly_different_title_does_not_swap_shipped_quantities(client):
    order = _order_with_lines("PPGREEDY", [("Blue tee", "TEE", 7), ("Red tee", "TEE", 3)])
    products = [
        {"sku": "TEE", "title": "Red tee (size M)", "quantity": 1},
        {"sku": "TEE", "title": "Blue tee", "quantity": 7},
    ]

    post(
        client, {"tracking_number": "PPGREEDY", "current_state": "in_transit", "products": products}
    )

    assert _shipped(order) == [("Blue tee", 7, 7), ("Red tee", 3, 1)]


def test_an_item_shipped_in_two_parcels_adds_up_on_its_line(client):
    order = _order_with_lines("PPDUP", [("Mug", "MUG", 3)])
    products = [
        {"title": "Mug", "sku": "MUG", "quantity": 1},
        {"title": "Mug", "sku": "MUG", "quantity": 2},
    ]

    post(client, {"tracking_number": "PPDUP", "current_state": "in_transit", "products": products})

    assert _shipped(order) == [("Mug", 3, 3)]


def test_a_negative_shipped_quantity_counts_as_none_shipped(client):
    order = _order_with_lines("PPNEG", [("A", "A", 3)])
    products = [{"sku": "A", "title": "A", "quantity": -5}]

    post(client, {"tracking_number": "PPNEG", "current_state": "in_transit", "products": products})

    assert _shipped(order) == [("A", 3, 0)]


def test_a_webhook_with_state_and_current_state_never_replaces_the_ordered_lines(client):
    order = _order_with_lines("PPBOTH", [("A", "A", 3), ("B", "B", 1)])
    body = {
        "tracking_number": "PPBOTH",
        "current_state": "in_transit",
        "state": "in_transit",
        "products": [{"sku": "A", "title": "A", "quantity": 1}],
    }

    post(client, body)

    assert _shipped(order) == [("A", 3, 1), ("B", 1, None)]


def test_a_line_a_webhook_added_survives_the_next_full_document(client):
    order = _order_with_lines("PPGIFT", [("Mug", "MUG", 3)])
    products = [
        {"title": "Mug", "sku": "MUG", "quantity": 3},
        {"title": "Gift card", "sku": "GIFT", "quantity": 1},
    ]
    post(client, {"tracking_number": "PPGIFT", "current_state": "in_transit", "products": products})
    full = {
        "tracking_number": "PPGIFT",
        "state": "in_transit",
        "parcel_attributes": [{"qty": 1}],
        "product_attributes": [{"title": "Mug", "sku": "MUG", "quantity": 3}],
    }

    post(client, full)

    assert _shipped(order) == [("Mug", 3, 3), ("Gift card", None, 1)]


def test_a_webhook_listing_more_products_than_the_cap_is_refused_and_kept(client):
    from django_shipping_orders.documents import MAX_LINES

    products = [{"sku": f"S{i}", "title": f"T{i}", "quantity": 1} for i in range(MAX_LINES + 1)]

    response = post(
        client, {"tracking_number": "PPBIG", "current_state": "in_transit", "products": products}
    )

    assert response.status_code == 400
    assert f"limit is {MAX_LINES}" in response.json()["detail"]
    # Kept, and final: no retry can make it fit.
    assert CallbackReceipt.objects.filter(status="unprocessable").count() == 1


@pytest.mark.parametrize("time", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"])
def test_a_time_with_no_utc_form_is_refused_not_failed_forever(client, time):
    body = {"tracking_number": "PPUTC", "current_state": "in_transit"}
    body["status_history"] = [{"status": "in_transit", "time": time}]

    response = post(client, body)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_document"
    assert CallbackReceipt.objects.get().status == "unprocessable"


def _with_weight(reference: str, weight: str) -> bytes:
    """A document whose first parcel weighs ``weight``, spelled exactly so in the body."""
    body = json.dumps(order_document(reference, 1))
    document = json.loads(body)
    document["parcel_attributes"][0]["weight"] = "WEIGHT"
    return json.dumps(document).replace('"WEIGHT"', weight).encode()


def test_a_weight_with_more_digits_than_its_column_is_kept_whole_in_raw(client):
    weight = "0.123456789012345678901234567890123456789"

    response = post(client, _with_weight("PPDIGITS", weight))

    assert response.json()["status"] == "processed"
    parcel = Order.objects.get(reference="PPDIGITS").parcels.get()
    assert Decimal(str(parcel.raw["weight"])) == Decimal(weight)  # every digit sent
    assert parcel.weight == Decimal("0.1235")  # the column holds four places


def test_two_weights_apart_only_past_the_17th_digit_are_stored_apart(client):
    first, second = "1.00000000000000000001", "1.00000000000000000002"

    post(client, _with_weight("PPAPART", first))
    post(client, _with_weight("PPAPART", second))

    parcel = Order.objects.get(reference="PPAPART").parcels.get()
    assert Decimal(str(parcel.raw["weight"])) == Decimal(second)


def test_a_plain_decimal_in_raw_is_still_a_json_number(client):
    post(client, _with_weight("PPPLAIN", "2.50"))

    parcel = Order.objects.get(reference="PPPLAIN").parcels.get()
    assert parcel.raw["weight"] == 2.5
