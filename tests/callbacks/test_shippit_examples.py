"""The published Shippit bodies through the callback view, and the plugins' query-string secret."""

from __future__ import annotations

from decimal import Decimal

import pytest

from django_shipping_orders.models import CallbackReceipt, Order
from tests.conftest import load_fixture

from .conftest import SECRET, callback_url, post, set_account

pytestmark = pytest.mark.django_db

Status = CallbackReceipt.Status


def test_the_published_webhook_lands_key_by_key(client):
    response = post(client, load_fixture("shippit/webhook_mapped.json"))

    assert response.status_code == 200 and response.json()["status"] == "processed"
    order = Order.objects.get(reference="PPYvZCTod5bkD")
    assert (order.state, order.courier_job_id, order.courier) == (
        "completed",
        "CPAVZUZ0001749",
        "couriersplease",
    )
    assert order.tracking_url == "http://www.shippit.com/track/ppyvzctod5bkd"
    assert (order.retailer_reference, order.retailer_order_number) == ("#OD12345", "WEYFEW232")
    assert (order.delivery_suburb, order.delivery_postcode, order.delivery_country_code) == (
        "Sydney",
        "2000",
        "AU",
    )
    assert sorted(order.products.values_list("title", "quantity_shipped")) == [
        ("Super awesome blue tshirt", 7),
        ("Super awesome red tshirt", 1),
    ]
    assert order.raw["merchant_url"] == "myshopify.storename.com"
    # Pruned receipts lose nothing: the order keeps every key the webhook carried.
    CallbackReceipt.objects.all().delete()
    assert set(load_fixture("shippit/webhook_mapped.json")) <= set(
        Order.objects.get(pk=order.pk).raw
    )


@pytest.mark.parametrize(
    ("name", "state", "price"),
    [
        ("create_order_200.json", "processing", Decimal("0.0")),
        ("cancel_200.json", "cancelled", Decimal("0.0")),
    ],
)
def test_published_order_bodies_posted_as_callbacks_are_applied(client, name, state, price):
    body = load_fixture(f"shippit/{name}")["response"]

    response = post(client, body)

    assert response.status_code == 200 and response.json()["status"] == "processed"
    order = Order.objects.get(reference=body["tracking_number"])
    assert (order.state, order.price, order.price_currency) == (state, price, "AUD")
    assert order.courier == "eparcel" + ("international" if state == "cancelled" else "")
    assert order.parcels.count() == 1


def test_the_label_answers_order_posted_as_a_callback_is_applied(client):
    body = load_fixture("shippit/label_200.json")["response"]["order"]

    assert post(client, body).status_code == 200

    order = Order.objects.get(reference="PPKFqy44U8Nff")
    assert (order.state, order.price, order.user_first_name) == (
        "completed",
        Decimal("15.95"),
        "Jane",
    )
    assert order.products.get().title == "Industrial Paint Stripper"


def test_a_query_string_secret_is_refused_unless_the_account_allows_it(client, settings):
    url = callback_url() + f"?api_key={SECRET}"
    body = load_fixture("shippit/webhook_mapped.json")
    refused = client.post(url, data=body, content_type="application/json")
    assert refused.status_code == 401 and not Order.objects.exists()

    set_account(settings, CALLBACK_SECRET_PARAM="api_key")
    accepted = client.post(url, data=body, content_type="application/json")
    wrong = client.post(
        callback_url() + "?api_key=nope", data=body, content_type="application/json"
    )

    assert accepted.status_code == 200 and Order.objects.filter(reference="PPYvZCTod5bkD").exists()
    assert wrong.status_code == 403
    stored = " ".join(f"{r.headers} {r.error}" for r in CallbackReceipt.objects.all())
    assert SECRET not in stored
