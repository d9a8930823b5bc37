"""Place → processed → label and courier tracking number, through the app's services."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from django_shipping_orders import services
from django_shipping_orders.models import Order, OrderEvent, Source

from .conftest import SENDERLV, SHIPPIT, order_payload

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("alias", [SHIPPIT, SENDERLV])
def test_placed_order_is_mirrored_as_processing(shop, alias):
    order = services.place_order(alias, order_payload())

    assert order.placement == Order.Placement.SUBMITTED
    assert order.reference
    assert order.state == "processing"
    assert order.courier_job_id == ""
    info = shop.sandbox.order_info(order.reference)
    assert info is not None and info["dialect"] == ("shippit" if alias == SHIPPIT else "senderlv")
    assert order.events.get().to_state == "processing"


@pytest.mark.parametrize(
    ("alias", "accepted_state"), [(SHIPPIT, "order_placed"), (SENDERLV, "accepted")]
)
def test_processed_order_has_courier_label_and_pickup_time(shop, alias, accepted_state):
    shop.sandbox.cancel_share = 0
    order = services.place_order(alias, order_payload())
    shop.sandbox.process_all()

    result = services.refresh_order(order)

    order.refresh_from_db()
    sandbox_view = shop.sandbox.order_info(order.reference)
    assert result.state_changed
    assert order.state == accepted_state
    assert order.courier_allocation == sandbox_view["courier"] != ""
    assert order.courier_job_id == sandbox_view["courier_job_id"] != ""
    assert order.label_url.startswith(shop.sandbox.url + "/labels/")
    assert order.pickup_at is not None and order.pickup_at.tzinfo is not None
    assert order.pickup_at > order.created_at
    assert [e.to_state for e in order.events.order_by("occurred_at")] == [
        "processing",
        accepted_state,
    ]


@pytest.mark.parametrize("alias", [SHIPPIT, SENDERLV])
def test_parcels_and_products_are_mirrored_with_label_numbers(shop, alias):
    shop.sandbox.cancel_share = 0
    order = services.place_order(alias, order_payload())
    assert [p.label_number for p in order.parcels.all()] == ["", ""]

    shop.sandbox.process_all()
    services.refresh_order(order)

    order.refresh_from_db()
    parcels = list(order.parcels.order_by("position"))
    assert [p.weight for p in parcels] == [Decimal("1.5"), Decimal("4.25")]
    assert [p.label_number for p in parcels] == [
        f"{order.courier_job_id}001",
        f"{order.courier_job_id}002",
    ]
    products = list(order.products.order_by("position"))
    assert [(p.sku, p.title, p.quantity, p.price) for p in products] == [
        ("MUG-1", "Mug", 2, Decimal("12.50")),
        ("TEA-9", "Tea, loose leaf", 1, Decimal("7.95")),
    ]


def test_shippit_label_endpoint_gives_a_pdf_url_and_the_courier_numbers(shop):
    shop.sandbox.cancel_share = 0
    order = services.place_order(SHIPPIT, order_payload())
    shop.sandbox.process_all()
    services.refresh_order(order)
    order.refresh_from_db()

    label = services.get_label(order)

    assert label.url.startswith(shop.sandbox.url + "/labels/")
    assert label.courier_job_id == order.courier_job_id
    assert label.label_numbers == tuple(p.label_number for p in order.parcels.order_by("position"))
    pdf = shop.client(SHIPPIT).session.get(label.url, timeout=5)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("alias", [SHIPPIT, SENDERLV])
def test_label_pdf_is_stored_locally_once_the_label_is_known(shop, alias):
    shop.sandbox.cancel_share = 0
    order = services.place_order(alias, order_payload())
    shop.sandbox.process_all()

    services.refresh_order(order)

    order.refresh_from_db()
    assert order.has_label
    assert order.label_downloaded_at is not None
    with order.label.open("rb") as stored:
        assert stored.read(5) == b"%PDF-"


def test_order_cancelled_by_the_provider_is_mirrored_as_cancelled(shop):
    shop.sandbox.cancel_share = 1
    order = services.place_order(SHIPPIT, order_payload())
    shop.sandbox.process_all()

    result = services.refresh_order(order)

    order.refresh_from_db()
    assert result.state_changed
    assert order.state == "cancelled"
    assert order.is_terminal
    assert order.courier_job_id == ""
    assert order.next_refresh_at is None
    event = order.events.order_by("-occurred_at").first()
    assert (event.from_state, event.to_state, event.source) == (
        "processing",
        "cancelled",
        Source.REFRESH,
    )


def test_order_cancelled_through_the_sandbox_control_api_is_mirrored(shop):
    reply = requests.post(
        f"{shop.sandbox.url}/_sandbox/settings", json={"cancel_share": 1}, timeout=5
    )
    assert reply.status_code == 200
    order = services.place_order(SENDERLV, order_payload())
    shop.sandbox.process_all()

    services.refresh_order(order)

    order.refresh_from_db()
    assert order.state == "cancelled"
    assert OrderEvent.objects.filter(order=order, to_state="cancelled").count() == 1


def test_refreshing_an_unchanged_order_changes_nothing(shop):
    shop.sandbox.cancel_share = 0
    order = services.place_order(SHIPPIT, order_payload())
    shop.sandbox.process_all()
    services.refresh_order(order)

    again = services.refresh_order(order)

    assert not again.changed
    assert order.events.count() == 2
