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


def _json_escaped(text: str) -> str:
    """``text`` as another JSON encoder may write it: ``/`` as ``\\/``, letters as ``\\u00XX``."""
    return "".join(
        "\\/" if c == "/" else f"\\u{ord(c):04X}" if i % 3 == 0 else c for i, c in enumerate(text)
    )


@pytest.mark.parametrize("spell", [_json_escaped, lambda s: s.replace("e", "\\u0065")])
def test_a_secret_echoed_json_escaped_is_replaced_before_it_is_parsed(client, spell):
    body = '{"tracking_number": "PPESC", "current_state": "in_transit", '
    body += f'"courier_name": "key {spell(API_KEY)} secret {spell(SECRET)}"}}'

    assert post(client, body.encode()).status_code == 200

    order = Order.objects.get(reference="PPESC")
    shown = f"{order.courier_name} {order.raw} {CallbackReceipt.objects.get().payload()}"
    assert API_KEY not in shown and SECRET not in shown
    assert "[redacted]" in order.courier_name


@pytest.mark.parametrize(
    "spelled",
    [
        SECRET.replace("-", "%2d"),  # lowercase hex
        SECRET.replace("-", "%2D", 1),  # in part
        "".join(f"%{b:02x}" for b in SECRET.encode()),  # every character
        SECRET.replace("e", "\\u0065"),  # JSON-escaped in a quoted body
    ],
    ids=["lowercase-hex", "in-part", "every-character", "json-escaped"],
)
def test_a_secret_encoded_any_way_is_replaced_in_logs_and_errors(spelled):
    from django_shipping_orders.redaction import scrub

    line = f'"POST /shipping/callbacks/default/{spelled}/ HTTP/1.1" 200'

    assert scrub(line) == '"POST /shipping/callbacks/default/[redacted]/ HTTP/1.1" 200'
