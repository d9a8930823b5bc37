"""The callback URL with the documented payloads, and every kind of bad input."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from django_shipping_orders.models import CallbackReceipt, Order, OrderEvent

from .conftest import SECRET, callback_url, order_document, post, set_account, webhook

pytestmark = pytest.mark.django_db

Status = CallbackReceipt.Status


def test_documented_shippit_webhook_creates_the_order(client):
    response = post(client, webhook())

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    order = Order.objects.get(account="default", reference="PPYvZCTod5bkD")
    assert order.state == "completed"
    assert order.courier_job_id == "CPAVZUZ0001749"
    assert order.courier_name == "Couriers Please"
    assert order.tracking_url == "http://app.shippit.com/tracking/ppyvzctod5bkd"
    assert order.retailer_reference == "#OD12345"
    assert order.state_as_of.isoformat() == "2016-04-26T19:36:32+00:00"
    receipt = CallbackReceipt.objects.get()
    assert response.json() == {"status": "processed", "receipt": receipt.pk}
    assert receipt.status == Status.PROCESSED
    assert receipt.order == order
    assert receipt.reference == "PPYvZCTod5bkD"
    assert receipt.attempts == 1
    assert receipt.processed_at is not None
    event = OrderEvent.objects.get(order=order)
    assert (event.to_state, event.source, event.receipt) == ("completed", "callback", receipt)


def test_documented_get_order_document_creates_order_with_parcels_and_products(client):
    response = post(client, order_document("PPGET0001"))

    assert response.status_code == 200
    order = Order.objects.get(reference="PPGET0001")
    assert order.state == "order_placed"
    assert order.receiver_name == "Receiver Name"
    assert order.pickup_at.isoformat() == "2025-12-29T21:59:59+00:00"
    assert [p.label_number for p in order.parcels.all()] == ["LBLPPGET000100"]
    assert order.parcels.get().weight == Decimal("20")
    product = order.products.get()
    assert (product.sku, product.price) == ("SKU12345", Decimal("12.34"))
    assert order.raw["customs_clearance_attributes"]["incoterm"] == "DDP"


def test_senderlv_callback_is_read_by_the_accounts_provider(client):
    body = order_document("IGNORED", state="accepted")
    del body["tracking_number"]
    body["order_reference"] = "SLV-000123"

    response = post(client, body, account="baltic")

    assert response.status_code == 200, response.content
    order = Order.objects.get(account="baltic", reference="SLV-000123")
    assert order.state == "accepted"


def test_unknown_state_is_stored_as_sent(client):
    post(client, webhook(current_state="held_at_depot_by_aliens", status_history=[]))

    assert Order.objects.get().state == "held_at_depot_by_aliens"


def test_receipt_keeps_the_exact_body_and_redacted_headers(client):
    raw = json.dumps(webhook(), indent=3).encode()

    post(
        client,
        raw,
        HTTP_AUTHORIZATION="Bearer abc-private",
        HTTP_COOKIE="sessionid=private-cookie",
        HTTP_X_API_KEY="private-key",
        HTTP_X_REQUEST_ID="req-42",
    )

    receipt = CallbackReceipt.objects.get()
    assert bytes(receipt.body) == raw
    assert receipt.content_type == "application/json"
    assert receipt.remote_addr == "127.0.0.1"
    headers = receipt.headers
    assert headers["X-Request-Id"] == "req-42"
    for name in ("X-Shipping-Callback-Secret", "Authorization", "Cookie", "X-Api-Key"):
        assert headers[name] == "[redacted]"
    stored = json.dumps(headers)
    for private in (SECRET, "abc-private", "private-cookie", "private-key"):
        assert private not in stored


def test_get_is_refused_with_405_and_a_json_reason(client):
    response = client.get(callback_url())

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["error"] == "method_not_allowed"
    assert not CallbackReceipt.objects.exists()


def test_unknown_account_is_404_and_records_nothing(client):
    response = post(client, webhook(), account="nobody")

    assert response.status_code == 404
    assert response.json()["error"] == "unknown_account"
    assert not CallbackReceipt.objects.exists()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"\xff\xfe\x00garbage", "invalid_json"),
        (b"[" * 100_000 + b"]" * 100_000, "too_deep"),
        (b'[{"tracking_number": "PP1"}]', "not_an_object"),
        (b'"just a string"', "not_an_object"),
        (b"{}", "invalid_document"),
        (b'{"current_state": "completed"}', "invalid_document"),
        (b'{"tracking_number": "PP1", "parcel_attributes": "lots"}', "invalid_document"),
        (b'{"tracking_number": "PP1", "pickup_at": "tomorrow-ish"}', "invalid_document"),
        (json.dumps({"tracking_number": "P" * 65}).encode(), "invalid_document"),
    ],
)
def test_unusable_body_is_400_with_a_reason_and_kept_as_unprocessable(client, body, code):
    response = post(client, body)

    assert response.status_code == 400
    answer = response.json()
    assert answer["error"] == code
    assert answer["detail"]
    receipt = CallbackReceipt.objects.get()
    assert answer["receipt"] == receipt.pk
    assert receipt.status == Status.UNPROCESSABLE
    assert receipt.error.startswith(code)
    assert bytes(receipt.body) == body
    assert not Order.objects.exists()


def test_missing_reference_says_which_key_is_expected(client):
    response = post(client, {"current_state": "completed"})

    assert "tracking_number" in response.json()["detail"]


def test_wrong_content_type_is_400_and_kept_as_unprocessable(client):
    response = post(client, webhook(), content_type="application/x-www-form-urlencoded")

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_content_type"
    receipt = CallbackReceipt.objects.get()
    assert receipt.status == Status.UNPROCESSABLE
    assert "application/json" in receipt.error
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/vnd.shop+json"]
)
def test_json_content_types_with_parameters_or_suffix_are_accepted(client, content_type):
    assert post(client, webhook(), content_type=content_type).status_code == 200


def test_five_megabyte_body_is_400_and_only_its_start_is_kept(client):
    body = b'{"tracking_number": "PPBIG", "padding": "' + b"x" * (5 * 1024 * 1024) + b'"}'

    response = post(client, body)

    assert response.status_code == 400
    assert response.json()["error"] == "too_large"
    receipt = CallbackReceipt.objects.get()
    assert receipt.status == Status.UNPROCESSABLE
    assert "truncated" in receipt.error
    assert 0 < len(bytes(receipt.body)) <= 64 * 1024
    assert bytes(receipt.body) == body[: len(bytes(receipt.body))]
    assert not Order.objects.exists()


def test_body_over_a_lowered_limit_is_refused(client, settings):
    settings.SHIPPING_ORDERS = {**settings.SHIPPING_ORDERS, "CALLBACK_MAX_BYTES": 200}

    small = post(client, {"tracking_number": "PPSMALL", "current_state": "in_transit"})
    big = post(client, webhook())

    assert small.status_code == 200
    assert big.status_code == 400
    assert big.json()["error"] == "too_large"


def test_callback_moves_the_next_refresh(client):
    post(client, webhook(upto="in_transit"))

    order = Order.objects.get()
    assert order.next_refresh_at is not None
    assert order.last_synced_at is not None


def test_signals_are_sent_after_commit(
    client, captured_signals, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post(client, webhook())
        post(client, b"{oops")

    received = [kw["receipt"].pk for kw in captured_signals["received"]]
    assert received == list(CallbackReceipt.objects.order_by("pk").values_list("pk", flat=True))
    [processed] = captured_signals["processed"]
    assert processed["result"].sync.created
    [failed] = captured_signals["failed"]
    assert failed["receipt"].status == Status.UNPROCESSABLE


def test_no_signal_before_commit(client, captured_signals, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        post(client, webhook())

    assert callbacks  # queued for the commit
    assert captured_signals == {"received": [], "processed": [], "failed": []}


def test_secret_in_another_accounts_header_name_is_still_accepted_by_configuration(
    client, settings
):
    set_account(settings, CALLBACK_SECRET_HEADER="X-Shippit-Hook")

    response = client.post(
        callback_url(),
        data=json.dumps(webhook()),
        content_type="application/json",
        HTTP_X_SHIPPIT_HOOK=SECRET,
    )

    assert response.status_code == 200
    assert CallbackReceipt.objects.get().headers["X-Shippit-Hook"] == "[redacted]"
