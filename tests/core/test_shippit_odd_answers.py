"""Quotes, tracking and merchant answers that are odd or wrong: typed errors, honest words."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_shipping_orders import services
from django_shipping_orders.exceptions import InvalidMerchantAccount, InvalidProviderResponse
from django_shipping_orders.providers import get_provider

from .helpers import account

pytestmark = pytest.mark.django_db

DESTINATION = {"suburb": "Sydney", "postcode": "2000", "state": "NSW"}
PARCELS = [{"qty": 1, "weight": 2.5}]
ARAMEX = {"courier_type": "Aramex", "service_level": "standard", "success": True}


@pytest.fixture
def shippit(scripted_server):
    with account(scripted_server.url + "/api/3"):
        yield scripted_server


def _quotes(server, answer, status=200):
    server.add(status, answer)
    return services.get_quotes("default", DESTINATION, PARCELS)


def test_a_currency_in_the_quote_answer_is_the_quotes_currency(shippit):
    (quote,) = _quotes(shippit, {"response": [dict(ARAMEX, currency="NZD", quotes=[{"price": 9}])]})

    assert (quote.currency, quote.cheapest.price) == ("NZD", Decimal("9"))


def test_a_price_beyond_any_charge_is_not_a_quote(shippit):
    (quote,) = _quotes(shippit, {"response": [dict(ARAMEX, quotes=[{"price": "1E+400"}])]})

    assert not quote.success and quote.options == ()
    assert "No price was quoted" in quote.error_description


def test_a_courier_that_says_no_is_not_described_as_quoting_zero(shippit):
    entry = {"courier_type": "X", "success": False, "quotes": [{"price": 5}]}

    (quote,) = _quotes(shippit, {"response": [entry]})

    assert not quote.success
    assert "$0" not in quote.error_description
    assert "declined" in quote.error_description


def test_a_refused_key_on_quotes_is_an_invalid_merchant_account(shippit):
    with pytest.raises(InvalidMerchantAccount):
        _quotes(shippit, {"error": "unauthorized"}, status=401)


@pytest.mark.parametrize("track", [5, True, "x", {"a": 1}])
def test_tracking_that_is_not_a_list_is_an_invalid_answer(shippit, track):
    shippit.add(200, {"response": {"track": track}})

    with pytest.raises(InvalidProviderResponse, match="track"):
        get_provider("default").get_tracking("PPT")


@pytest.mark.parametrize("body", [b"", {}, {"response": {}}])
def test_an_empty_merchant_answer_does_not_say_the_key_works(shippit, body):
    shippit.add(200, body)
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError):
        call_command("check_shipping_accounts", "default", stdout=out, stderr=err)

    assert "key works" not in out.getvalue()
    assert "not a merchant" in err.getvalue()
