"""The public Python API: place, cancel and refresh orders."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from django_shipping_orders import services
from django_shipping_orders.documents import parse_order_document
from django_shipping_orders.exceptions import (
    OrderCannotBeCancelled,
    OrderStateError,
    ProviderValidationError,
    SubmissionOutcomeUnknown,
)
from django_shipping_orders.models import Order, OrderEvent, Source
from django_shipping_orders.providers import get_provider
from tests.conftest import load_fixture

from .helpers import HangingServer, account, documented_payload

pytestmark = pytest.mark.django_db

NEW_ORDER = {
    "retailer_reference": "SHOP-1001",
    "receiver_name": "Receiver Name",
    "delivery_address": "1 Test Street",
    "delivery_postcode": "2000",
    "parcel_attributes": [{"qty": 1, "weight": 2.5}],
}


def _placed_body(reference="PPNEW0001", **changes):
    body = load_fixture("get_order_200.json") | {
        "tracking_number": reference,
        "state": "processing",
    }
    body.update(changes)
    return {"response": body}


@pytest.fixture
def shippit(scripted_server):
    with account(scripted_server.url + "/api/3"):
        yield scripted_server


@pytest.fixture
def hanging():
    server = HangingServer()
    with account(server.url + "/api/3", TIMEOUT=0.3):
        yield server
    server.close()


# -- place_order ---------------------------------------------------------------------------------


def test_place_order_writes_the_local_row_before_the_post(shippit, monkeypatch):
    seen_at_send = []
    session = get_provider("default").client.session
    send = session.request

    def spy(method, url, **kwargs):
        seen_at_send.append(
            list(Order.objects.values_list("placement", "reference", "retailer_reference"))
        )
        return send(method, url, **kwargs)

    monkeypatch.setattr(session, "request", spy)
    shippit.add(200, _placed_body())
    services.place_order("default", NEW_ORDER)
    assert seen_at_send == [[("pending", None, "SHOP-1001")]]


def test_place_order_success_stores_the_reference_and_mirrors_the_document(shippit):
    shippit.add(200, _placed_body())
    order = services.place_order("default", NEW_ORDER)
    assert order.reference == "PPNEW0001"
    assert order.placement == Order.Placement.SUBMITTED
    assert order.state == "processing"
    assert order.courier_allocation == "CouriersPlease"
    assert type(order.duties) is Decimal
    assert order.parcels.count() == 1 and order.products.count() == 1
    assert Order.objects.count() == 1
    (event,) = order.events.all()
    assert (event.to_state, event.source) == ("processing", Source.PLACE)
    request = shippit.requests[0]
    assert (request["method"], request["path"]) == ("POST", "/api/3/orders")
    assert json.loads(request["body"])["order"]["retailer_reference"] == "SHOP-1001"


def test_place_order_accepts_a_document(shippit):
    shippit.add(200, _placed_body())
    document = parse_order_document({**NEW_ORDER, "tracking_number": "draft"})
    order = services.place_order("default", document)
    assert order.reference == "PPNEW0001"
    assert json.loads(shippit.requests[0]["body"])["order"]["retailer_reference"] == "SHOP-1001"


def test_place_order_is_not_polled_right_away(shippit):
    from django.utils import timezone

    shippit.add(200, _placed_body())
    before = timezone.now()
    order = services.place_order("default", NEW_ORDER)
    assert order.next_refresh_at is not None
    assert (order.next_refresh_at - before).total_seconds() >= 60


def test_place_order_timeout_marks_unknown_and_never_reposts(hanging):
    with pytest.raises(SubmissionOutcomeUnknown) as info:
        services.place_order("default", NEW_ORDER)
    assert hanging.requests == ["POST /api/3/orders HTTP/1.1"]
    order = Order.objects.get()
    assert order.placement == Order.Placement.UNKNOWN
    assert order.reference is None
    assert "timed out" in order.last_error
    assert "will not be re-sent" in str(info.value)
    assert order.retailer_reference == "SHOP-1001"


def test_place_order_503_marks_unknown_with_one_post(shippit):
    shippit.default = (503, {"error": "unavailable"}, {})
    with pytest.raises(SubmissionOutcomeUnknown):
        services.place_order("default", NEW_ORDER)
    assert [r["method"] for r in shippit.requests] == ["POST"]
    assert Order.objects.get().placement == Order.Placement.UNKNOWN


def test_place_order_unreadable_success_marks_unknown(shippit):
    # A 2xx we cannot read may well have created the order: a person must check.
    shippit.add(200, b"<html>OK</html>")
    with pytest.raises(SubmissionOutcomeUnknown):
        services.place_order("default", NEW_ORDER)
    assert Order.objects.get().placement == Order.Placement.UNKNOWN
    assert len(shippit.requests) == 1


def test_place_order_422_marks_rejected(shippit):
    shippit.add(
        422, {"error": "invalid_order", "error_description": "delivery_postcode is not valid"}
    )
    with pytest.raises(ProviderValidationError) as info:
        services.place_order("default", NEW_ORDER)
    assert info.value.code == "invalid_order"
    order = Order.objects.get()
    assert order.placement == Order.Placement.REJECTED
    assert (
        "invalid_order" in order.last_error and "delivery_postcode is not valid" in order.last_error
    )
    assert len(shippit.requests) == 1


def test_place_order_keeps_the_row_a_callback_created_first(shippit):
    existing = Order.objects.create(account="default", reference="PPNEW0001", state="order_placed")
    shippit.add(200, _placed_body())
    order = services.place_order("default", NEW_ORDER)
    assert order.pk == existing.pk
    assert Order.objects.count() == 1
    assert Order.objects.get().placement == Order.Placement.SUBMITTED


def test_an_unknown_account_is_a_clear_error():
    from django_shipping_orders.exceptions import UnknownAccount

    with pytest.raises(UnknownAccount, match="nowhere"):
        services.place_order("nowhere", NEW_ORDER)
    assert Order.objects.count() == 0


# -- cancel_order ----------------------------------------------------------------------------------


@pytest.fixture
def placed():
    from django_shipping_orders.sync import apply_document

    document = parse_order_document(documented_payload("PPDOC0001"))
    return apply_document("default", document, Source.REFRESH).order


@pytest.mark.parametrize(
    "body",
    [{"response": {"tracking_number": "PPDOC0001", "state": "cancelled"}}, {"response": {}}, b""],
    ids=["document", "empty-envelope", "no-body"],
)
def test_cancel_order_200_marks_cancelled_with_an_event(shippit, placed, body):
    shippit.add(200, body)
    result = services.cancel_order(placed)
    request = shippit.requests[0]
    assert (request["method"], request["path"]) == ("DELETE", "/api/3/orders/PPDOC0001")
    assert result.order.state == "cancelled"
    order = Order.objects.get()
    assert order.state == "cancelled"
    assert order.receiver_name == "Receiver Name"  # the answer does not blank the mirror
    event = OrderEvent.objects.get(to_state="cancelled")
    assert (event.from_state, event.source) == ("order_placed", Source.CANCEL)
    assert order.next_refresh_at is None


def test_cancel_order_422_raises_with_the_order_state(shippit, placed):
    shippit.add(
        422,
        {
            "error": "order_cannot_be_cancelled",
            "error_description": "The order is already in transit",
            "order_state": "in_transit",
        },
    )
    with pytest.raises(OrderCannotBeCancelled) as info:
        services.cancel_order(placed)
    err = info.value
    assert err.order_state == "in_transit"
    assert err.code == "order_cannot_be_cancelled"
    assert err.status_code == 422
    order = Order.objects.get()
    assert order.state == "order_placed"
    assert "order_cannot_be_cancelled" in order.last_error
    assert len(shippit.requests) == 1


def test_cancel_order_without_reference_is_refused():
    order = Order.objects.create(account="default", placement=Order.Placement.UNKNOWN)
    with pytest.raises(OrderStateError, match="never accepted"):
        services.cancel_order(order)


# -- refresh_order ---------------------------------------------------------------------------------


def test_refresh_order_applies_the_providers_document(shippit):
    order = Order.objects.create(account="default", reference="PPDOC0001")
    shippit.add(
        200, {"response": load_fixture("get_order_200.json") | {"tracking_number": "PPDOC0001"}}
    )
    result = services.refresh_order(order)
    assert result.changed and not result.created
    order.refresh_from_db()
    assert order.receiver_name == "Receiver Name"
    assert order.data_as_of is not None and order.state_as_of is not None


def test_refresh_order_without_reference_is_refused():
    order = Order.objects.create(account="default", placement=Order.Placement.PENDING)
    with pytest.raises(OrderStateError, match="no provider reference"):
        services.refresh_order(order)


def test_refresh_order_of_an_account_no_longer_configured_is_a_clear_error():
    from django_shipping_orders.exceptions import UnknownAccount

    order = Order.objects.create(account="retired", reference="PP1")
    with pytest.raises(UnknownAccount, match="retired"):
        services.refresh_order(order)


def test_a_refresh_after_a_failure_clears_the_error(shippit):
    order = Order.objects.create(account="default", reference="PPDOC0001")
    shippit.add(404, load_fixture("get_order_404.json"))
    with pytest.raises(Exception):
        services.refresh_order(order)
    shippit.add(200, load_fixture("get_order_200.json") | {"tracking_number": "PPDOC0001"})
    services.refresh_order(order)
    order.refresh_from_db()
    assert order.last_error == "" and order.refresh_failures == 0
