"""Order documents: the documented payload parsed field by field, strict where it must be."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from django_shipping_orders.documents import (
    ORDER_FIELDS,
    PARCEL_FIELDS,
    PRODUCT_FIELDS,
    USER_FIELDS,
    loads,
    parse_order_document,
)
from django_shipping_orders.exceptions import DocumentError, ShippingOrdersError, ValueOutOfRange
from tests.conftest import fixture_bytes

SYDNEY_SUMMER = timezone(timedelta(hours=11))


@pytest.fixture
def payload():
    """The documented Get Order example, read as the client reads it (Decimals) plus a reference."""
    data = loads(fixture_bytes("get_order_200.json"))
    data["tracking_number"] = "PPDOC0001"
    return data


@pytest.fixture
def document(payload):
    return parse_order_document(payload)


def test_the_documented_payload_has_34_keys_and_each_one_is_mapped(payload):
    keys = set(payload) - {"tracking_number"}
    assert len(keys) == 34
    mapped = set(ORDER_FIELDS) | {
        "state",
        "user_attributes",
        "parcel_attributes",
        "product_attributes",
    }
    assert keys <= mapped, f"unmapped keys: {sorted(keys - mapped)}"


def test_every_top_level_key_maps_to_the_field_of_its_own_name(document):
    f = document.fields
    assert f["authority_to_leave"] == "Yes"
    assert f["courier_type"] == "standard"
    assert f["courier_allocation"] == "CouriersPlease"
    assert f["receiver_contact_number"] == "0400000000"
    assert f["receiver_name"] == "Receiver Name"
    assert f["receiver_language_code"] == "EN"
    assert f["retailer_invoice"] == "Retailer Invoice"
    assert f["retailer_reference"] == "Retailer Reference"
    assert f["product_currency"] == "AUD"
    assert f["suppress_communications"] is False
    assert f["tracking_only"] is False
    assert f["features"] == []
    assert f["description"] == ""
    assert f["customs_clearance_attributes"]["tax_id_number"] == "GB 334 8373 88"
    assert f["customs_clearance_attributes"]["receiver_freight_charge_amount"] == Decimal("10.0")
    assert f["is_return"] is False
    assert "return" not in f
    assert f["delivery_company"] == "Delivery Company"
    assert f["delivery_address"] == "1 Test Street"
    assert f["delivery_suburb"] == "Sydney"
    assert f["delivery_state"] == "NSW"
    assert f["delivery_postcode"] == "2000"
    assert f["delivery_country_code"] == "AU"
    assert f["delivery_timezone"] == "Australia/Sydney"
    assert f["delivery_instructions"] == "Leave on door"
    assert f["state"] == "order_placed"
    assert document.state == "order_placed"
    assert document.reference == "PPDOC0001"


def test_money_is_decimal_never_float(document):
    for name in ("cash_on_delivery_amount", "duties", "tax_amount"):
        assert type(document.fields[name]) is Decimal, name
        assert document.fields[name] == Decimal("0.0")
    assert type(document.products[0].values["price"]) is Decimal
    assert document.products[0].values["price"] == Decimal("12.34")


def test_money_stays_decimal_even_from_a_float_payload(payload):
    payload["tax_amount"] = 0.1  # a caller's dict built with json.loads
    payload["product_attributes"][0]["price"] = 12.34
    document = parse_order_document(payload)
    assert document.fields["tax_amount"] == Decimal("0.1")
    assert document.products[0].values["price"] == Decimal("12.34")


def test_loads_reads_numbers_with_a_fraction_as_exact_decimals():
    data = loads(b'{"a": 0.1, "b": 12.34, "c": 3}')
    assert data == {"a": Decimal("0.1"), "b": Decimal("12.34"), "c": 3}
    assert type(data["a"]) is Decimal and type(data["c"]) is int


@pytest.mark.parametrize(
    ("field", "local"),
    [
        ("pickup_at", datetime(2025, 12, 30, 8, 59, 59)),
        ("pickup_deadline_at", datetime(2025, 12, 30, 8, 59, 59)),
        ("dropoff_at", datetime(2025, 12, 31, 8, 59, 59)),
        ("dropoff_deadline_at", datetime(2025, 12, 31, 8, 59, 59)),
    ],
)
def test_plus_eleven_datetimes_are_aware_and_keep_their_instant(document, field, local):
    value = document.fields[field]
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(hours=11)
    assert value == local.replace(tzinfo=SYDNEY_SUMMER)
    # The same instant, read in UTC: the day before, 21:59:59.
    assert value.astimezone(timezone.utc) == (local - timedelta(hours=11)).replace(
        tzinfo=timezone.utc
    )


def test_time_without_offset_is_read_as_utc(payload):
    payload["pickup_at"] = "2025-12-30T08:59:59"
    value = parse_order_document(payload).fields["pickup_at"]
    assert value == datetime(2025, 12, 30, 8, 59, 59, tzinfo=timezone.utc)


def test_user_attributes_become_user_fields(document):
    f = document.fields
    assert f["user_email"] == "test@example.com"
    assert f["user_first_name"] == "Test"
    assert f["user_last_name"] == "Example"
    assert f["user_mobile"] == "0400000000"
    assert set(USER_FIELDS.values()) <= set(f)


def test_parcel_attributes_are_read_key_for_key(document):
    (parcel,) = document.parcels
    assert set(parcel.values) == set(PARCEL_FIELDS)
    assert parcel.values == {
        "qty": 1,
        "length": Decimal("0.1"),
        "width": Decimal("0.2"),
        "depth": Decimal("0.3"),
        "weight": Decimal("20.0"),
        "label_number": "PARCELLABEL01",
    }


def test_product_attributes_are_read_key_for_key(document):
    (product,) = document.products
    assert set(product.values) == set(PRODUCT_FIELDS)
    assert product.values == {
        "price": Decimal("12.34"),
        "tariff_code": "62121000",
        "quantity": 1,
        "title": "Title",
        "sku": "SKU12345",
        "dangerous_goods_code": "1",
        "dangerous_goods_text": "Explosives",
        "origin_country_code": "AU",
        "product_line_id": "PL1",
        "location": "Loc1",
        "dangerous_goods_class": "EXP",
        "packed": 1,
    }


def test_unknown_keys_survive_in_raw(payload):
    payload["carbon_neutral"] = True
    payload["parcel_attributes"][0]["volume_cm3"] = 6000
    document = parse_order_document(payload)
    assert document.raw["carbon_neutral"] is True
    assert document.parcels[0].raw["volume_cm3"] == 6000
    assert "carbon_neutral" not in document.fields


def test_a_missing_optional_field_is_simply_absent():
    document = parse_order_document({"tracking_number": "PP1", "state": "processing"})
    assert document.fields == {"state": "processing"}
    assert document.parcels is None and document.products is None


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("duties", "a lot", "duties"),
        ("cash_on_delivery_amount", {"amount": 1}, "cash_on_delivery_amount"),
        ("tax_amount", True, "tax_amount"),
        ("duties", "NaN", "duties"),
        ("pickup_at", "next tuesday", "pickup_at"),
        ("pickup_at", 1735509599, "pickup_at"),
        ("pickup_at", "2025-13-45T99:00:00+11:00", "pickup_at"),
        ("receiver_name", ["a", "b"], "receiver_name"),
        ("suppress_communications", "maybe", "suppress_communications"),
        ("features", "fast", "features"),
        ("customs_clearance_attributes", [1], "customs_clearance_attributes"),
        ("user_attributes", "someone", "user_attributes"),
        ("parcel_attributes", {"qty": 1}, "parcel_attributes"),
        ("state", {"name": "x"}, "state"),
    ],
)
def test_a_wrong_type_in_a_field_raises_document_error_naming_it(payload, key, value, named):
    payload[key] = value
    with pytest.raises(DocumentError) as info:
        parse_order_document(payload)
    assert info.value.field == named
    assert repr(named) in str(info.value)


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [("qty", 1.5, "parcel_attributes[0].qty"), ("weight", "heavy", "parcel_attributes[0].weight")],
)
def test_a_wrong_type_in_a_parcel_names_the_parcel_and_the_key(payload, key, value, named):
    payload["parcel_attributes"][0][key] = value
    with pytest.raises(DocumentError) as info:
        parse_order_document(payload)
    assert info.value.field == named


def test_a_wrong_type_in_a_user_attribute_names_it(payload):
    payload["user_attributes"]["email"] = {"x": 1}
    with pytest.raises(DocumentError, match=r"user_attributes\.email"):
        parse_order_document(payload)


def test_document_error_is_a_value_error_under_the_runtime_root():
    assert issubclass(DocumentError, ValueError)
    assert issubclass(DocumentError, ShippingOrdersError)


@pytest.mark.parametrize("reference", [None, "", "   "])
def test_missing_reference_is_an_error(payload, reference):
    payload["tracking_number"] = reference
    with pytest.raises(DocumentError, match="reference") as info:
        parse_order_document(payload)
    assert info.value.field == "tracking_number"


def test_the_documented_example_without_a_reference_is_refused():
    with pytest.raises(DocumentError, match="tracking_number"):
        parse_order_document(loads(fixture_bytes("get_order_200.json")))


@pytest.mark.parametrize("body", [[], "PP1", None, 42])
def test_a_body_that_is_not_an_object_is_refused(body):
    with pytest.raises(DocumentError, match="JSON object"):
        parse_order_document(body)


def test_reference_can_be_read_from_another_key():
    document = parse_order_document(
        {"order_reference": "SLV-1", "state": "accepted"}, reference_keys=("order_reference",)
    )
    assert document.reference == "SLV-1"


def test_field_map_renames_provider_keys_first():
    document = parse_order_document(
        {
            "ref": "SLV-1",
            "status": "accepted",
            "price_total": "1.50",
            "pickup_time": "2025-01-01T10:00:00+02:00",
        },
        reference_keys=("order_reference",),
        field_map={
            "ref": "order_reference",
            "status": "state",
            "price_total": "duties",
            "pickup_time": "pickup_at",
        },
    )
    assert document.reference == "SLV-1"
    assert document.state == "accepted"
    assert document.fields["duties"] == Decimal("1.50")
    assert document.fields["pickup_at"] == datetime(2025, 1, 1, 8, tzinfo=timezone.utc)


def test_an_unknown_state_is_kept_as_sent(payload):
    payload["state"] = "teleported"
    assert parse_order_document(payload).state == "teleported"


# -- the webhook shape ---------------------------------------------------------------------------


@pytest.fixture
def webhook():
    return parse_order_document(loads(fixture_bytes("shippit_webhook.json")))


def test_webhook_current_state_is_the_state(webhook):
    assert webhook.reference == "PPYvZCTod5bkD"
    assert webhook.state == "completed"
    assert webhook.fields["state"] == "completed"


def test_webhook_status_history_is_newest_first(webhook):
    assert [entry.status for entry in webhook.status_history] == [
        "completed",
        "with_driver",
        "in_transit",
        "ready_for_pickup",
        "despatch_in_progress",
        "order_placed",
    ]
    times = [entry.time for entry in webhook.status_history]
    assert times == sorted(times, reverse=True)


def test_status_history_is_sorted_newest_first_whatever_order_it_came_in(shippit_webhook):
    shippit_webhook["status_history"].reverse()
    document = parse_order_document(shippit_webhook)
    assert document.status_history[0].status == "completed"


def test_webhook_remote_updated_at_is_the_newest_status_time(webhook):
    assert webhook.remote_updated_at == datetime(2016, 4, 26, 19, 36, 32, tzinfo=timezone.utc)
    assert webhook.state_time() == webhook.remote_updated_at


def test_webhook_is_partial_and_mentions_only_what_it_carries(webhook):
    assert webhook.is_full is False
    assert webhook.parcels is None
    assert webhook.products is None  # the webhook's "products" is not product_attributes
    assert "receiver_name" not in webhook.fields
    assert webhook.fields["courier_job_id"] == "CPAVZUZ0001749"
    assert webhook.fields["courier_name"] == "Couriers Please"
    assert webhook.fields["tracking_url"] == "http://app.shippit.com/tracking/ppyvzctod5bkd"
    assert webhook.fields["retailer_order_number"] == "WEYFEW232"
    assert webhook.fields["expected_delivery_at"] == datetime(
        2016, 4, 26, 20, 46, 1, tzinfo=timezone(timedelta(hours=10))
    )


def test_full_get_order_document_is_full(document):
    assert document.is_full is True


def test_status_history_entry_with_a_bad_time_names_it(shippit_webhook):
    shippit_webhook["status_history"][1]["time"] = "yesterday"
    with pytest.raises(DocumentError, match=r"status_history\[1\]\.time"):
        parse_order_document(shippit_webhook)


def test_a_reference_too_long_to_store_is_a_document_error(payload):
    payload["tracking_number"] = "P" * 65
    with pytest.raises(DocumentError, match="tracking_number"):
        parse_order_document(payload)


@pytest.mark.parametrize("value", [None, "", "  "])
def test_an_empty_state_does_not_count_as_a_state(payload, value):
    payload["state"] = value
    document = parse_order_document(payload)
    assert document.state == ""
    assert "state" not in document.fields  # so it never blanks a stored state


def test_current_state_is_used_when_state_is_null(shippit_webhook):
    shippit_webhook["state"] = None
    assert parse_order_document(shippit_webhook).state == "completed"


#: Values at and past the edges of each kind of line field (text, integer, money, measure).
_EDGE_VALUES = [
    None, "", "12", " 7 ", "1e3", "NaN", True, False, 0, -0, 1, -1, 2**31 - 1, 2**31,
    -(2**31), -(2**31) - 1, 10**8, 10**10, 10**40, Decimal("0"), Decimal("-0.0"),
    Decimal("1.5"), Decimal("1.50000"), Decimal("2.00005"), Decimal("2.00015"),
    Decimal("99999999.9999"), Decimal("99999999.99995"), Decimal("100000000"),
    Decimal("-99999999.9999"), Decimal("9999999999.9999"), Decimal("1E+2"), Decimal("1E-7"),
    Decimal("0E-7"), Decimal("12"), Decimal("12.0"), Decimal("1E+40"), Decimal("Infinity"),
    Decimal("NaN"), 1.5, {"a": 1}, [1],
]  # fmt: skip


@pytest.mark.parametrize("fields", [PARCEL_FIELDS, PRODUCT_FIELDS], ids=["parcel", "product"])
@pytest.mark.parametrize("value", _EDGE_VALUES, ids=repr)
def test_a_line_value_reads_as_its_parser_reads_it(fields, value):
    """Every line field gives what its parser gives (value, spelling and warnings), or its error."""
    for key, parse in fields.items():
        name = "parcel_attributes" if fields is PARCEL_FIELDS else "product_attributes"
        payload = {"tracking_number": "PPEDGE", "state": "completed", name: [{key: value}]}
        where = f"{name}[0].{key}"
        try:
            expected = parse(value, where)
        except DocumentError as err:
            refused = err
        else:
            refused = None
        if refused is not None and not isinstance(refused, ValueOutOfRange):
            with pytest.raises(DocumentError) as info:
                parse_order_document(payload)
            assert (info.value.field, str(info.value)) == (where, str(refused))
            continue
        document = parse_order_document(payload)
        lines = document.parcels if fields is PARCEL_FIELDS else document.products
        read = lines[0].values[key]
        if refused is None:
            assert (type(read), str(read)) == (type(expected), str(expected)), key
        else:
            assert read is None and str(refused) in document.fields["data_warnings"], key
