"""What a provider answers enters the app through the client: bounded, parsed safely, scrubbed."""

from __future__ import annotations

import pytest

from django_shipping_orders import client, replies, services
from django_shipping_orders.exceptions import (
    InvalidProviderResponse,
    ProviderAPIError,
    SubmissionOutcomeUnknown,
)
from django_shipping_orders.models import Order

from .helpers import API_KEY, account

pytestmark = pytest.mark.django_db

SECRET = "cb-secret-never-shown"
NEW_ORDER = {"retailer_reference": "SHOP-1", "receiver_name": "R", "delivery_postcode": "2000"}


@pytest.fixture
def shippit(scripted_server):
    with account(scripted_server.url + "/api/3", MAX_RETRIES=0):
        yield scripted_server


def nested(depth: int) -> bytes:
    return b'{"response": ' + b"[" * depth + b"]" * depth + b"}"


def test_a_placement_answered_with_json_nested_100000_deep_is_an_unknown_outcome(shippit):
    shippit.add(200, nested(100_000))
    with pytest.raises(SubmissionOutcomeUnknown) as err:
        services.place_order("default", NEW_ORDER)
    assert "nested deeper than" in str(err.value)
    order = Order.objects.get()
    assert order.placement == Order.Placement.UNKNOWN, "not left pending"


def test_json_deeper_than_the_limit_but_readable_by_python_is_refused_too(shippit):
    shippit.add(200, nested(client.MAX_JSON_DEPTH + 5))
    order = Order.objects.create(account="default", reference="PPX1")
    with pytest.raises(InvalidProviderResponse, match="nested deeper than"):
        services.refresh_order(order)


def test_an_order_document_nested_in_its_fields_is_a_typed_error_not_a_crash(shippit, monkeypatch):
    """Depth under the client's limit that still breaks an adapter's recursion."""
    from django_shipping_orders.providers.base import Provider

    def recursing(self, payload):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(Provider, "parse_document", recursing)
    shippit.add(200, {"response": {"tracking_number": "PPX1"}})
    with pytest.raises(SubmissionOutcomeUnknown):
        services.place_order("default", NEW_ORDER)


def test_an_answer_larger_than_the_limit_is_not_read(shippit, monkeypatch):
    monkeypatch.setattr(replies, "MAX_RESPONSE_BYTES", 1000)
    shippit.add(200, {"response": {"tracking_number": "PPX1", "notes": "x" * 5000}})
    order = Order.objects.create(account="default", reference="PPX1")
    with pytest.raises(InvalidProviderResponse, match="larger than 1000 bytes"):
        services.refresh_order(order)


@pytest.mark.parametrize("status", [403, 422, 500])
def test_a_provider_echoing_the_key_and_the_secret_gets_both_scrubbed(shippit, status):
    echo = f"key {API_KEY} and secret {SECRET} are not valid"
    shippit.default = (status, {"error": f"bad_{API_KEY}", "error_description": echo}, {})
    order = Order.objects.create(account="default", reference="PPX1")
    with pytest.raises(ProviderAPIError) as err:
        services.refresh_order(order)
    error = err.value
    texts = [
        str(error),
        repr(error),
        error.description,
        error.code,
        error.response.text,
        str(error.response.request.headers),
    ]
    order.refresh_from_db()
    texts.append(order.last_error)
    for text in texts:
        assert API_KEY not in text and SECRET not in text, text
    assert "[redacted] are not valid" in error.description
