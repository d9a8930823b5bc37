"""The small helpers: which database column a model field is stored in."""

from __future__ import annotations

import pytest

from django_shipping_orders.models import Order, Parcel
from django_shipping_orders.utils import column_name


def test_column_name_is_the_database_column_of_a_field():
    assert column_name(Order, "reference") == "reference"
    assert column_name(Parcel, "order") == "order_id"


def test_a_reverse_relation_has_no_column_and_is_refused():
    with pytest.raises(LookupError, match=r"Order\.parcels has no column of its own"):
        column_name(Order, "parcels")
