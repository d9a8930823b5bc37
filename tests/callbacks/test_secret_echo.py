"""A callback body carrying the API key or a callback secret is stored with it replaced."""

from __future__ import annotations

import json

import pytest

from django_shipping_orders.models import CallbackReceipt, Order

from .conftest import API_KEY, SECRET, post, set_account, webhook

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


ODD = 'wh/sec "quoted" back\\slash 🔑 é+='  # every character JSON or a URL writes another way


@pytest.mark.parametrize(
    "write",
    [
        lambda s: json.dumps(s)[1:-1],  # Python's default: \\ud83d\\udd11, \\u00e9
        lambda s: json.dumps(s, ensure_ascii=False)[1:-1].replace("/", "\\/"),  # PHP's \\/
    ],
    ids=["ascii-escapes", "php-slash"],
)
def test_a_secret_written_by_another_encoder_is_blanked_and_the_body_still_reads(
    client, settings, write
):
    set_account(settings, CALLBACK_SECRETS=[SECRET, ODD])
    body = '{"tracking_number": "PPODD", "current_state": "in_transit", '
    body += f'"courier_name": "a {write(ODD)} b", "receiver_name": "{write(ODD)}"}}'

    response = post(client, body.encode())

    assert response.status_code == 200, response.content  # still valid JSON once blanked
    order = Order.objects.get(reference="PPODD")
    assert order.courier_name == "a [redacted] b" and order.receiver_name == "[redacted]"
    assert ODD not in str(order.raw)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_a_secret_in_a_utf16_or_utf32_body_is_blanked(client, encoding):
    body = {"tracking_number": "PPWIDE", "current_state": "in_transit", "courier_name": SECRET}

    response = post(client, json.dumps(body).encode(encoding))

    assert response.status_code == 200, response.content
    assert Order.objects.get(reference="PPWIDE").courier_name == "[redacted]"
    assert SECRET.encode(encoding)[2:] not in bytes(CallbackReceipt.objects.get().body)


def test_a_space_written_as_plus_is_blanked_in_logs(settings):
    from django_shipping_orders.redaction import scrub

    set_account(settings, CALLBACK_SECRETS=["correct horse battery staple"])

    assert scrub("?api_key=correct+horse+battery+staple") == "?api_key=[redacted]"


def test_a_header_carrying_the_token_lowercase_encoded_is_redacted(client):
    post(client, webhook("PPHEAD"), HTTP_X_ORIGINAL_URI=f"/cb/{SECRET.replace('-', '%2d')}/")

    assert CallbackReceipt.objects.get().headers["X-Original-Uri"] == "[redacted]"


def test_a_broken_account_leaves_the_others_secrets_hidden(settings):
    from django_shipping_orders.redaction import scrub

    set_account(settings, TIMEOUT="twenty")  # refused when the accounts are read

    assert scrub(f"key {API_KEY} token {SECRET}") == "key [redacted] token [redacted]"


def test_a_rotated_secret_is_hidden_after_reload(settings):
    from django_shipping_orders.conf import shipping_settings
    from django_shipping_orders.redaction import scrub

    assert scrub("rotated-secret-0123456789") == "rotated-secret-0123456789"
    settings.SHIPPING_ORDERS["ACCOUNTS"]["default"]["CALLBACK_SECRETS"] = [
        "rotated-secret-0123456789"
    ]
    shipping_settings.reload()  # what docs/settings.md says to call after an in-place change

    assert scrub("rotated-secret-0123456789") == "[redacted]"


def test_a_secret_starting_with_a_slash_echoed_as_an_escape_leaves_valid_json(client, settings):
    set_account(settings, CALLBACK_SECRETS=[SECRET, "/k9Qz0123456789abcdef"])
    body = b'{"tracking_number": "PPSLASH", "current_state": "in_transit", '
    body += b'"courier_name": "\\/k9Qz0123456789abcdef"}'

    response = post(client, body)

    assert response.status_code == 200, response.content
    assert Order.objects.get(reference="PPSLASH").courier_name == "[redacted]"


def test_blanking_never_starts_inside_an_escape(client, settings):
    set_account(settings, CALLBACK_SECRETS=[SECRET, "/k9Qz0123456789abcdef"])
    body = b'{"tracking_number": "PPESCAPED", "current_state": "in_transit", '
    body += b'"courier_name": "C:\\\\/k9Qz0123456789abcdef", '  # a backslash, then the secret
    body += b'"receiver_name": "\\\\u0073k-test"}'  # a backslash and "u0073k-test": no secret

    response = post(client, body)

    assert response.status_code == 200, response.content
    order = Order.objects.get(reference="PPESCAPED")
    assert order.courier_name == "C:\\[redacted]"
    assert order.receiver_name == "\\u0073k-test"


def test_a_utf16_body_refused_for_a_lone_surrogate_is_stored_without_the_secret(client):
    text = '{"tracking_number": "PPLONE16", "note": "\ud800", "courier_name": "' + API_KEY + '"}'

    response = post(client, text.encode("utf-16", "surrogatepass"))

    assert response.status_code == 400
    stored = bytes(CallbackReceipt.objects.get().body).decode("utf-16", "surrogatepass")
    assert API_KEY not in stored and "[redacted]" in stored


def test_a_secret_across_the_cut_of_a_too_large_body_is_not_kept_in_part(client, settings):
    from django_shipping_orders.callbacks.receipts import TRUNCATED_KEEP_BYTES

    settings.SHIPPING_ORDERS = {**settings.SHIPPING_ORDERS, "CALLBACK_MAX_BYTES": 100_000}
    head = b'{"note": "' + b"a" * (TRUNCATED_KEEP_BYTES - 10 - 10)
    body = head + API_KEY.encode() + b"a" * 200_000 + b'"}'

    assert post(client, body).status_code == 400

    stored = bytes(CallbackReceipt.objects.get().body)
    assert len(stored) <= TRUNCATED_KEEP_BYTES
    assert API_KEY[:10].encode() not in stored


def test_a_header_without_a_secret_is_kept_whatever_else_it_holds(client):
    post(client, webhook("PPKEPT"), HTTP_X_TRACE="a\x00b", HTTP_REFERER="https://u:p@shop.example/")

    headers = CallbackReceipt.objects.get().headers
    assert headers["X-Trace"] == "a\\x00b"  # stored escaped, not blanked out
    assert headers["Referer"] == "https://u:p@shop.example/"
