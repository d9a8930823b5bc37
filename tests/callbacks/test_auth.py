"""Authentication of callbacks: secrets (header, URL token, rotation), addresses, DEBUG."""

from __future__ import annotations

import json
import logging

import pytest

from django_shipping_orders.callbacks import views
from django_shipping_orders.models import CallbackReceipt, Order

from .conftest import API_KEY, OLD_SECRET, SECRET, callback_url, post, set_account, webhook

pytestmark = pytest.mark.django_db

Status = CallbackReceipt.Status


def test_secret_in_the_header_is_accepted(client):
    assert post(client, webhook()).status_code == 200
    assert Order.objects.filter(reference="PPYvZCTod5bkD").exists()


def test_secret_as_url_token_is_accepted(client):
    response = post(client, webhook(), secret=None, token=SECRET)

    assert response.status_code == 200
    assert Order.objects.exists()


def test_both_old_and_new_secret_work_during_rotation(client, settings):
    set_account(settings, CALLBACK_SECRETS=[SECRET, OLD_SECRET])

    assert post(client, webhook("PPNEW"), secret=SECRET).status_code == 200
    assert post(client, webhook("PPOLD"), secret=OLD_SECRET).status_code == 200
    assert set(Order.objects.values_list("reference", flat=True)) == {"PPNEW", "PPOLD"}


def test_retired_secret_is_refused(client, settings):
    set_account(settings, CALLBACK_SECRETS=[SECRET])

    response = post(client, webhook(), secret=OLD_SECRET)

    assert response.status_code == 403
    assert response.json()["error"] == "wrong_secret"


def test_missing_secret_is_401_and_orders_untouched(client):
    response = post(client, webhook(), secret=None)

    assert response.status_code == 401
    assert response.json() == {
        "error": "missing_secret",
        "detail": "Send the callback secret in the X-Shipping-Callback-Secret header or in the URL.",
    }
    assert not Order.objects.exists()


@pytest.mark.parametrize("wrong", ["nope", SECRET + "x", SECRET[:-1], SECRET.upper(), "é" + SECRET])
def test_wrong_secret_is_403_and_orders_untouched(client, wrong):
    header = post(client, webhook(), secret=wrong)
    token = post(client, webhook(), secret=None, token=wrong)

    assert (header.status_code, token.status_code) == (403, 403)
    assert header.json()["error"] == "wrong_secret"
    assert not Order.objects.exists()


def test_refused_request_is_recorded_without_the_presented_secret(client):
    post(client, webhook(), secret="guessed-" + SECRET)

    receipt = CallbackReceipt.objects.get()
    assert receipt.status == Status.REJECTED
    assert receipt.headers["X-Shipping-Callback-Secret"] == "[redacted]"
    assert "guessed-" not in json.dumps(receipt.headers)
    assert receipt.error.startswith("The callback secret does not match.")
    assert receipt.order is None


def test_refused_requests_are_recorded_at_a_bounded_rate(client):
    big = b'{"tracking_number": "PPX", "junk": "' + b"j" * 50_000 + b'"}'

    answers = {
        post(client, big, secret="wrong").status_code
        for _ in range(views.REJECTED_RECEIPTS_PER_MINUTE + 15)
    }

    assert answers == {403}
    receipts = CallbackReceipt.objects.filter(status=Status.REJECTED)
    assert receipts.count() == views.REJECTED_RECEIPTS_PER_MINUTE
    assert max(len(bytes(r.body)) for r in receipts) <= views.REJECTED_KEEP_BYTES


def test_refused_requests_are_never_processed_again(client):
    from django_shipping_orders.callbacks import process_receipt

    post(client, webhook(), secret="wrong")
    result = process_receipt(CallbackReceipt.objects.get())

    assert result.status == Status.REJECTED
    assert not Order.objects.exists()


def test_no_secret_configured_is_refused_when_debug_is_off(client, settings):
    set_account(settings, CALLBACK_SECRETS=[])
    settings.DEBUG = False

    response = post(client, webhook(), secret=None)

    assert response.status_code == 403
    assert response.json()["error"] == "callbacks_not_configured"
    assert not Order.objects.exists()


def test_no_secret_configured_is_accepted_in_development(client, settings):
    set_account(settings, CALLBACK_SECRETS=[])
    settings.DEBUG = True

    assert post(client, webhook(), secret=None).status_code == 200
    assert Order.objects.exists()


@pytest.mark.parametrize(
    "allowed", [["127.0.0.1"], ["10.0.0.0/8", "127.0.0.0/8"], ["::1", "127.0.0.1/32"]]
)
def test_allowed_address_passes(client, settings, allowed):
    set_account(settings, CALLBACK_ALLOWED_IPS=allowed)

    assert post(client, webhook()).status_code == 200


def test_address_outside_the_allow_list_is_403_even_with_the_right_secret(client, settings):
    set_account(settings, CALLBACK_ALLOWED_IPS=["203.0.113.0/24", "not-an-address"])

    response = post(client, webhook(), HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert response.status_code == 403
    assert response.json()["error"] == "forbidden_address"
    assert not Order.objects.exists()


def test_allow_list_checks_remote_addr(client, settings):
    set_account(settings, CALLBACK_ALLOWED_IPS=["203.0.113.0/24"])

    response = post(client, webhook(), REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 200
    assert CallbackReceipt.objects.get().remote_addr == "203.0.113.9"


def test_secrets_never_reach_logs_receipts_or_answers(client, settings, caplog, monkeypatch):
    """Token in the URL, a failing apply, a bad body: the secret and API key appear nowhere."""
    from django_shipping_orders import sync

    def explode(*args, **kwargs):
        raise RuntimeError(f"cannot apply, secret was {SECRET}, key {API_KEY}")

    caplog.set_level(logging.DEBUG)
    answers = [
        post(client, b"{broken", secret=None, token=SECRET),
        post(client, webhook(), secret=None, token=SECRET + "-wrong"),
        post(client, webhook(), secret=None, token=SECRET, content_type="text/plain"),
    ]
    monkeypatch.setattr(sync, "apply_document", explode)
    answers.append(post(client, webhook("PPBOOM"), secret=None, token=SECRET))

    assert [a.status_code for a in answers] == [400, 403, 400, 200]
    failed = CallbackReceipt.objects.get(reference="PPBOOM")
    assert failed.status == Status.FAILED
    assert "[redacted]" in failed.error and "[redacted]" in failed.traceback
    stored = [
        (r.error, r.traceback, json.dumps(r.headers), bytes(r.body).decode("utf-8", "replace"))
        for r in CallbackReceipt.objects.all()
    ]
    texts = [caplog.text, *(a.content.decode() for a in answers), json.dumps(stored)]
    for text in texts:
        assert SECRET not in text
        assert API_KEY not in text
    assert "Refused a callback" in caplog.text  # the refusals are logged, without the path


def test_callback_url_with_token_reverses(client):
    assert callback_url("default", "tok") == "/shipping/callbacks/default/tok/"
