"""Provider answers with values the app cannot store as sent: what the shop is left with.

Placing an order creates it at the provider, so the answer's reference must
survive any odd field in it; numbers are held to their columns; currencies
are ISO codes or nothing.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import DecimalField, IntegerField

from django_shipping_orders import services
from django_shipping_orders.document_fields import (
    ORDER_FIELDS,
    PARCEL_FIELDS,
    PRODUCT_FIELDS,
)
from django_shipping_orders.models import Order, Parcel, Product
from django_shipping_orders.values import INTEGER_RANGE, DecimalParser
from tests.conftest import load_fixture

from .helpers import account

pytestmark = pytest.mark.django_db

NEW_ORDER = {
    "retailer_reference": "SHOP-7",
    "delivery_address": "1 Test Street",
    "parcel_attributes": [{"qty": 1}],
}


@pytest.fixture
def shippit(scripted_server):
    with account(scripted_server.url + "/api/3"):
        yield scripted_server


def _create_answer(reference: str, **changes):
    body = load_fixture("shippit/create_order_200.json")
    body["response"]["tracking_number"] = reference
    body["response"].update(changes)
    return body


def _place(server, body) -> Order:
    server.add(200, body)
    services.place_order("default", NEW_ORDER)
    return Order.objects.get(retailer_reference="SHOP-7")


@pytest.mark.parametrize("price", ["10000000000", "1E+20", "9999999999.99995"])
def test_placing_with_an_out_of_range_price_keeps_the_reference(shippit, price):
    order = _place(shippit, _create_answer("PPHUGE", price=price))

    assert (order.reference, order.placement) == ("PPHUGE", Order.Placement.SUBMITTED)
    assert order.price is None and order.raw["price"] == price
    assert "'price'" in order.data_warnings
    assert order.products.count() == 1
    assert len(list(Order.objects.all())) == 1


@pytest.mark.parametrize(
    ("changes", "named"),
    [({"price": "$15.95"}, "price"), ({"price": "15,95"}, "price")],
)
def test_placing_with_an_unreadable_field_keeps_the_reference_and_says_what(
    shippit, changes, named
):
    order = _place(shippit, _create_answer("PPODD", **changes))

    assert (order.reference, order.placement) == ("PPODD", Order.Placement.SUBMITTED)
    assert order.state == "processing"
    assert order.courier_job_id == "30734876324"
    assert order.price is None and f"'{named}'" in order.data_warnings


def test_placing_with_a_fractional_quantity_keeps_the_line_without_it(shippit):
    body = _create_answer("PPFRAC")
    body["response"]["products"][0]["quantity"] = 2.5

    order = _place(shippit, body)

    assert order.reference == "PPFRAC" and order.placement == Order.Placement.SUBMITTED
    line = order.products.get()
    assert (line.title, line.quantity) == ("Industrial Paint Stripper", None)
    assert "products[0].quantity" in order.data_warnings


def test_a_create_answer_without_state_keeps_its_products(shippit):
    body = _create_answer("PPNOSTATE")
    del body["response"]["state"]

    order = _place(shippit, body)

    assert list(order.products.values_list("title", "quantity")) == [
        ("Industrial Paint Stripper", 1)
    ]


@pytest.mark.parametrize(
    ("currency", "stored"),
    [("NZD", "NZD"), ("nzd", "NZD"), ("new zealand dollars", ""), (36, ""), ({"code": "NZD"}, "")],
)
def test_only_an_iso_currency_code_is_stored(shippit, currency, stored):
    order = _place(shippit, _create_answer("PPCUR", price="15.95", currency=currency))

    assert order.price == Decimal("15.95")
    assert order.price_currency == stored
    assert order.raw["currency"] == currency
    assert ("currency" in order.data_warnings) == (stored == "")


def test_a_full_document_that_reads_cleanly_clears_the_warnings(shippit):
    order = _place(shippit, _create_answer("PPCLEAR", price="1E+20"))
    assert order.data_warnings
    shippit.add(200, _create_answer("PPCLEAR", price="15.95"))

    services.refresh_order(order)

    order.refresh_from_db()
    assert (order.price, order.data_warnings) == (Decimal("15.95"), "")


# -- the parsers match the columns -------------------------------------------------------------


def _tables():
    for key, (name, parse) in ORDER_FIELDS.items():
        yield Order, name, parse, key
    for key, parse in PARCEL_FIELDS.items():
        yield Parcel, key, parse, key
    for key, parse in PRODUCT_FIELDS.items():
        yield Product, key, parse, key


def test_every_number_is_read_for_the_column_it_lands_in():
    checked = 0
    for model, name, parse, key in _tables():
        column = model._meta.get_field(name)
        if isinstance(column, DecimalField):
            assert isinstance(parse, DecimalParser), key
            assert (parse.max_digits, parse.decimal_places) == (
                column.max_digits,
                column.decimal_places,
            ), key
            checked += 1
        elif isinstance(column, IntegerField):
            low, high = INTEGER_RANGE
            assert parse(high, key) == high and parse(low, key) == low
            with pytest.raises(ValueError):
                parse(high + 1, key)
            checked += 1
    assert checked >= 10
