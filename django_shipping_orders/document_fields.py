"""The order document's keys: the column each one lands in, and the parser that reads it.

Each number is read by the parser of its column kind, so that a value the
column cannot hold is caught while the document is parsed (``values.py``);
tests/core/test_document_fields.py holds these tables to the models.
"""

from __future__ import annotations

from . import values
from .values import Parser

_text = values.text
_boolean = values.boolean
_integer = values.integer
_json_list = values.json_list
_json_object = values.json_object
#: ``DecimalField(max_digits=14, decimal_places=4)``: prices, duties, amounts.
_money = values.decimal_parser(14, 4)
#: ``DecimalField(max_digits=12, decimal_places=4)``: parcel sizes and weights.
_measure = values.decimal_parser(12, 4)
parse_timestamp = values.timestamp

#: Payload key -> (Order field, parser) for the top level of an order document.
ORDER_FIELDS: dict[str, tuple[str, Parser]] = {
    "authority_to_leave": ("authority_to_leave", _text),
    "cash_on_delivery_amount": ("cash_on_delivery_amount", _money),
    "courier_type": ("courier_type", _text),
    "courier_allocation": ("courier_allocation", _text),
    "receiver_contact_number": ("receiver_contact_number", _text),
    "receiver_name": ("receiver_name", _text),
    "receiver_language_code": ("receiver_language_code", _text),
    "retailer_invoice": ("retailer_invoice", _text),
    "retailer_reference": ("retailer_reference", _text),
    "product_currency": ("product_currency", _text),
    "suppress_communications": ("suppress_communications", _boolean),
    "tracking_only": ("tracking_only", _boolean),
    "features": ("features", _json_list),
    "description": ("description", _text),
    "duties": ("duties", _money),
    "tax_amount": ("tax_amount", _money),
    "customs_clearance_attributes": ("customs_clearance_attributes", _json_object),
    "return": ("is_return", _boolean),
    "pickup_at": ("pickup_at", parse_timestamp),
    "pickup_deadline_at": ("pickup_deadline_at", parse_timestamp),
    "dropoff_at": ("dropoff_at", parse_timestamp),
    "dropoff_deadline_at": ("dropoff_deadline_at", parse_timestamp),
    "delivery_company": ("delivery_company", _text),
    "delivery_address": ("delivery_address", _text),
    "delivery_suburb": ("delivery_suburb", _text),
    "delivery_state": ("delivery_state", _text),
    "delivery_postcode": ("delivery_postcode", _text),
    "delivery_country_code": ("delivery_country_code", _text),
    "delivery_timezone": ("delivery_timezone", _text),
    "delivery_instructions": ("delivery_instructions", _text),
    # Not in the documented Get Order example, but sent by the label/webhook
    # endpoints and by the sandbox; mirrored when present.
    "courier_job_id": ("courier_job_id", _text),
    "tracking_url": ("tracking_url", _text),
    "label_url": ("label_url", _text),
    "courier_name": ("courier_name", _text),
    "retailer_order_number": ("retailer_order_number", _text),
    "expected_delivery_date": ("expected_delivery_at", parse_timestamp),
    # The charge for the shipment (a string in Shippit's answers: "15.95").
    "price": ("price", _money),
}

#: ``user_attributes`` key -> Order field.
USER_FIELDS: dict[str, str] = {
    "email": "user_email",
    "first_name": "user_first_name",
    "last_name": "user_last_name",
    "mobile": "user_mobile",
}

PARCEL_FIELDS: dict[str, Parser] = {
    "qty": _integer,
    "length": _measure,
    "width": _measure,
    "depth": _measure,
    "weight": _measure,
    "label_number": _text,
}

PRODUCT_FIELDS: dict[str, Parser] = {
    "price": _money,
    "tariff_code": _text,
    "quantity": _integer,
    "title": _text,
    "sku": _text,
    "dangerous_goods_code": _text,
    "dangerous_goods_text": _text,
    "origin_country_code": _text,
    "product_line_id": _text,
    "location": _text,
    "dangerous_goods_class": _text,
    "packed": _integer,
}
