"""A callback body carrying the API key or a callback secret is stored with it replaced."""

from __future__ import annotations

import pytest

from django_shipping_orders.models import CallbackReceipt, Order

from .conftest import API_KEY, SECRET, post, webhook

pytestmark = pytest.mark.django_db


def _stored_bytes() -> bytes:
    return b"".join(bytes(r.body) for r in CallbackReceipt.objects.all())


def test_an_accepted_callback_is_stored_and_applied_without_the_secrets(client):
    body = webhook(courier_name=f"key {API_KEY} secret {SECRET}")
    assert post(client, body).status_code == 200
    stored = _stored_bytes()
    assert API_KEY.encode() not in stored and SECRET.encode() not in stored
    assert b"[redacted]" in stored
    for order in Order.objects.all():
        assert API_KEY not in str(order.raw) and SECRET not in str(order.raw)


def test_a_refused_callback_is_recorded_without_the_secret_in_its_body(client):
    post(client, b'{"note": "' + SECRET.encode() + b'"}', secret="wrong")
    # The secret across the end of the kept bytes: no prefix of it is kept either.
    across = b'{"note": "' + b"x" * 1010 + SECRET.encode() + b'"}'
    post(client, across, secret="wrong")
    assert CallbackReceipt.objects.filter(status=CallbackReceipt.Status.REJECTED).count() == 2
    stored = _stored_bytes()
    assert SECRET.encode() not in stored
    assert SECRET[:12].encode() not in stored
