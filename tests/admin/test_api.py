"""The read-only orders API and the storefront's public tracking endpoint."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_shipping_orders.api import tracking_token
from django_shipping_orders.models import Parcel, Product

from .conftest import READY_FOR_PICKUP, SYDNEY_PICKUP, make_pdf

pytestmark = pytest.mark.django_db

LIST = "shipping_orders:api-order-list"
TRACKING = "shipping_orders:api-tracking"


def test_orders_api_is_for_staff_by_default(client, make_user, make_order):
    make_order()
    url = reverse(LIST)
    assert client.get(url).status_code == 403  # no credentials (session auth: 403, not 401)
    client.force_login(make_user("shopper", staff=False))
    assert client.get(url).status_code == 403
    client.force_login(make_user("staff"))
    assert client.get(url).status_code == 200


def test_orders_api_permissions_are_a_setting(client, settings, make_order):
    make_order()
    settings.SHIPPING_ORDERS = {
        **settings.SHIPPING_ORDERS,
        "API_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    }
    assert client.get(reverse(LIST)).status_code == 200


def test_orders_api_lists_with_parcels_products_tracking_and_label_link(
    client, admin_user, make_order
):
    order = make_order(
        **READY_FOR_PICKUP,
        cash_on_delivery_amount="12.3400",
        label=make_pdf("label"),
    )
    Parcel.objects.create(order=order, position=0, qty=1, weight="20.0000", label_number="PL1")
    Product.objects.create(order=order, position=0, title="Mug", sku="MUG", price="12.3400")
    client.force_login(admin_user)

    body = client.get(reverse(LIST)).json()

    assert body["count"] == 1
    [item] = body["results"]
    assert item["reference"] == order.reference
    assert item["tracking"] == {
        "state": "ready_for_pickup",
        "courier": "CouriersPlease",
        "tracking_number": "CPX123",
        "tracking_url": "https://track.example/CPX123",
        "pickup_at": "2025-12-29T21:59:59Z",
    }
    assert item["parcels"] == [
        {
            "position": 0,
            "qty": 1,
            "length": None,
            "width": None,
            "depth": None,
            "weight": "20.0000",
            "label_number": "PL1",
        }
    ]
    assert item["products"][0]["title"] == "Mug" and item["products"][0]["price"] == "12.3400"
    assert item["cash_on_delivery_amount"] == "12.3400"
    assert item["label"] == "http://testserver" + reverse("shipping_orders:label", args=[order.pk])
    detail = client.get(reverse("shipping_orders:api-order-detail", args=[order.pk])).json()
    assert detail == item


def test_orders_api_filters_by_state_account_and_retailer_reference(client, admin_user, make_order):
    placed = make_order(state="order_placed", retailer_reference="SHOP-1")
    moving = make_order(state="in_transit", retailer_reference="SHOP-2")
    elsewhere = make_order(state="in_transit", account="second", retailer_reference="SHOP-3")
    client.force_login(admin_user)

    def refs(**params) -> set[str]:
        return {item["reference"] for item in client.get(reverse(LIST), params).json()["results"]}

    assert refs(state="in_transit") == {moving.reference, elsewhere.reference}
    assert refs(state="in_transit", account="default") == {moving.reference}
    assert refs(retailer_reference="SHOP-1") == {placed.reference}
    assert refs(state=["order_placed", "in_transit"], account="default") == {
        placed.reference,
        moving.reference,
    }
    assert refs(state="nothing") == set()


def test_orders_api_is_paginated(client, admin_user, make_order):
    for _ in range(5):
        make_order()
    client.force_login(admin_user)
    page = client.get(reverse(LIST), {"page_size": 2, "page": 2}).json()
    assert page["count"] == 5
    assert len(page["results"]) == 2
    assert page["next"] and page["previous"]


def test_orders_api_is_read_only(client, admin_user, make_order):
    order = make_order()
    client.force_login(admin_user)
    detail = reverse("shipping_orders:api-order-detail", args=[order.pk])
    assert client.post(reverse(LIST), {}, content_type="application/json").status_code == 405
    assert client.patch(detail, {"state": "x"}, content_type="application/json").status_code == 405
    assert client.delete(detail).status_code == 405


# -- storefront tracking --------------------------------------------------------------------


def test_storefront_tracking_with_a_valid_token_gives_only_public_tracking(client, make_order):
    order = make_order(
        state="in_transit",
        courier_name="CouriersPlease",
        courier_job_id="CPX123",
        tracking_url="https://track.example/CPX123",
        pickup_at=SYDNEY_PICKUP,
        receiver_name="Jane Receiver",
        user_email="jane@example.com",
    )
    response = client.get(
        reverse(TRACKING),
        {"retailer_reference": order.retailer_reference, "token": tracking_token(order)},
    )
    assert response.status_code == 200
    assert response.json() == {
        "state": "in_transit",
        "courier": "CouriersPlease",
        "tracking_number": "CPX123",
        "tracking_url": "https://track.example/CPX123",
        "pickup_at": "2025-12-29T21:59:59Z",
    }
    assert b"Jane" not in response.content and b"jane@" not in response.content


@pytest.mark.parametrize("tamper", ["forged", "other-salt", "truncated"])
def test_storefront_tracking_refuses_an_invalid_token(client, make_order, tamper):
    from django.core import signing

    order = make_order()
    token = {
        "forged": f"{order.pk}:not-a-signature",
        "other-salt": signing.Signer(salt="something.else").sign(str(order.pk)),
        "truncated": tracking_token(order)[:-3],
    }[tamper]
    response = client.get(
        reverse(TRACKING), {"retailer_reference": order.retailer_reference, "token": token}
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "No order matches this reference and token."}


def test_storefront_tracking_refuses_a_token_of_another_order(client, make_order):
    mine = make_order()
    theirs = make_order()
    response = client.get(
        reverse(TRACKING),
        {"retailer_reference": theirs.retailer_reference, "token": tracking_token(mine)},
    )
    assert response.status_code == 404


def test_storefront_tracking_needs_both_reference_and_token(client, make_order):
    order = make_order()
    assert client.get(reverse(TRACKING), {"token": tracking_token(order)}).status_code == 400
    assert client.get(reverse(TRACKING), {"retailer_reference": "R"}).status_code == 400
