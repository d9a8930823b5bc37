"""Hostile bodies: answered 400 before any expensive work, the same way inline and deferred.

Each of these once hung a worker, stalled the deferred queue for everyone or
was answered differently by the two modes. What a user checks: the answer,
the receipt's status and reason, and that nothing else is held up.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from django_shipping_orders import callbacks
from django_shipping_orders.models import CallbackReceipt, Order

from .conftest import post, webhook

pytestmark = pytest.mark.django_db

Status = CallbackReceipt.Status

#: 68 bytes: ``int()`` of this exponent once took minutes.
HUGE_EXPONENT = b'{"tracking_number":"X","parcel_attributes":[{"qty":1E+999999999}]}'
#: A lone surrogate as a JSON escape: valid JSON, text no database can store.
SURROGATE = b'{"tracking_number":"PP\\ud800","current_state":"in_transit"}'
NUL = b'{"tracking_number":"PPNUL","current_state":"in_transit","courier_name":"a\\u0000b"}'


def many_parcels(count: int = 100_000) -> bytes:
    return b'{"tracking_number":"PPMANY","parcel_attributes":[' + b",".join([b"{}"] * count) + b"]}"


def deeply_nested(depth: int = 500) -> bytes:
    return b'{"tracking_number":"PPDEEP","features":' + b"[" * depth + b"]" * depth + b"}"


@pytest.fixture(params=["inline", "deferred"])
def mode(request: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    settings.SHIPPING_ORDERS = {**settings.SHIPPING_ORDERS, "CALLBACK_PROCESSING": request.param}
    # Deferred: the drain is queued, not run, so the answer is the view's alone.
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kw: None)
    return request.param


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (HUGE_EXPONENT, "number_too_large"),
        (b'{"tracking_number":"X","duties":1.' + b"1" * 5000 + b"}", "number_too_large"),
        (b'{"tracking_number":"X","qty":' + b"9" * 5000 + b"}", "number_too_large"),
        (SURROGATE, "unstorable_text"),
        (NUL, "unstorable_text"),
        (b'{"tracking_number":"PPK","\\u0000":1}', "unstorable_text"),
        (many_parcels(), "too_many_items"),
        (deeply_nested(), "too_deep"),
        (b'{"tracking_number":"X","duties":NaN}', "invalid_json"),
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "not_an_object"),
        (b'{"current_state":"completed"}', "invalid_document"),
    ],
    ids=[
        "68-byte-exponent",
        "5000-digit-fraction",
        "5000-digit-integer",
        "lone-surrogate",
        "nul-in-text",
        "nul-in-a-key",
        "100000-parcels",
        "500-deep",
        "nan",
        "not-json",
        "not-an-object",
        "no-reference",
    ],
)
def test_hostile_bodies_are_answered_400_and_kept_as_unprocessable(client, mode, body, code):
    response = post(client, body)

    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["error"] == code
    assert answer["detail"]
    receipt = CallbackReceipt.objects.get(pk=answer["receipt"])
    assert receipt.status == Status.UNPROCESSABLE
    assert receipt.error.startswith(code)
    assert bytes(receipt.body) == body
    assert not Order.objects.exists()


def test_a_number_within_the_limits_is_read_exactly(client, mode):
    body = webhook(tracking_number="PPOK", delivery_latitude=-33.123456789012345)
    response = post(client, body)

    assert response.status_code in (200, 202)
    callbacks.process_pending()
    assert Order.objects.get(reference="PPOK").state == "completed"


@pytest.mark.parametrize(
    "body",
    [
        {"tracking_number": 1.5, "current_state": "in_transit"},
        {"tracking_number": 12345, "current_state": "in_transit"},
        {"tracking_number": True, "current_state": "in_transit"},
        {"tracking_number": "PPX", "current_state": ["in_transit"]},
        {"tracking_number": "PPX", "parcel_attributes": [{"qty": "many"}]},
        {"tracking_number": "PPX", "status_history": [{"status": "x", "time": "yesterday"}]},
        {"tracking_number": "P" * 65},
        {"tracking_number": "PP\nX"},
    ],
    ids=["float", "int", "bool", "list-state", "bad-qty", "bad-time", "long-ref", "control-char"],
)
def test_inline_and_deferred_accept_and_refuse_the_same_bodies(client, settings, body, monkeypatch):
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kw: None)
    answers = {}
    for mode in ("inline", "deferred"):
        settings.SHIPPING_ORDERS = {**settings.SHIPPING_ORDERS, "CALLBACK_PROCESSING": mode}
        response = post(client, body)
        answers[mode] = (response.status_code < 300, response.json().get("error"))
    assert answers["inline"] == answers["deferred"], answers


def test_a_poisoned_receipt_among_a_thousand_good_ones_holds_nobody_up(client, settings):
    """Receipts stored earlier (before these limits, say): the drain takes each on its own."""
    settings.SHIPPING_ORDERS = {**settings.SHIPPING_ORDERS, "CALLBACK_PROCESSING": "deferred"}
    good = [
        json.dumps(webhook(f"PPGOOD{index:04d}", upto="in_transit")).encode()
        for index in range(1000)
    ]
    bodies = [*good[:500], SURROGATE, HUGE_EXPONENT, *good[500:]]
    CallbackReceipt.objects.bulk_create(
        CallbackReceipt(account="default", body=body, dedupe_key=str(index))
        for index, body in enumerate(bodies)
    )

    counts = callbacks.process_pending()

    assert counts == {"processed": 1000, "unprocessable": 2}
    assert Order.objects.count() == 1000
    assert not CallbackReceipt.objects.filter(status=Status.RECEIVED).exists()
    # A second run has nothing to do: no receipt is tried again and again.
    assert callbacks.process_pending() == {}


def test_a_receipt_whose_processing_raises_anything_is_failed_and_the_drain_goes_on(
    client, settings, monkeypatch
):
    settings.SHIPPING_ORDERS = {**settings.SHIPPING_ORDERS, "CALLBACK_PROCESSING": "deferred"}
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kw: None)
    for reference in ("PPA", "PPBOOM", "PPC"):
        post(client, webhook(reference))
    from django_shipping_orders import sync

    real = sync.apply_document

    def exploding(account, document, *args, **kwargs):
        if document.reference == "PPBOOM":
            # An error whose text no database can store, raised deep in the apply.
            raise RuntimeError("cannot \ud800 store \x00 this")
        return real(account, document, *args, **kwargs)

    monkeypatch.setattr(sync, "apply_document", exploding)

    assert callbacks.process_pending() == {"processed": 2, "failed": 1}
    failed = CallbackReceipt.objects.get(status=Status.FAILED)
    assert failed.reference == "PPBOOM"
    assert "RuntimeError" in failed.error
    assert set(Order.objects.values_list("reference", flat=True)) == {"PPA", "PPC"}


def test_a_nul_in_the_content_type_is_refused_and_stored_on_every_database(client):
    response = post(client, webhook("PPNULTYPE"), content_type="application/json\x00")

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_content_type"
    receipt = CallbackReceipt.objects.get()
    assert receipt.content_type == "application/json\\u0000"


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("fe80::1234:5678:9abc:def0%wlx00c0ca123456", "fe80::1234:5678:9abc:def0"),
        ("fe80::1%eth0", "fe80::1"),
        ("203.0.113.9", "203.0.113.9"),
        ("not an address", None),
    ],
)
def test_the_sender_address_is_stored_as_the_column_holds_it(client, sent, stored):
    response = post(client, webhook("PPADDR"), REMOTE_ADDR=sent)

    assert response.status_code == 200
    assert CallbackReceipt.objects.get().remote_addr == stored
