"""Provider-neutral order documents: typed values plus the untouched raw payload.

Providers turn their wire format into an :class:`OrderDocument`; ``sync`` turns
documents into rows. Parsing is strict where a wrong value would corrupt the
mirror (the reference, the state, a field of the wrong type) and tolerant
everywhere else: a missing optional key is simply absent, unknown keys live on
in ``raw``. Money and measures become ``Decimal``; datetimes become aware and
keep their instant.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from datetime import timezone as dt_timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.dateparse import parse_datetime

from .couriers import normalize as normalize_courier
from .exceptions import DocumentError


def loads(body: bytes | str) -> Any:
    """Parse JSON keeping every number with a fraction as an exact ``Decimal``."""
    return json.loads(body, parse_float=Decimal)


# -- field parsers: each takes (value, field name) and raises DocumentError naming it ---------


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | dict | list):
        raise DocumentError(f"Field {name!r} must be text, got {type(value).__name__}.", field=name)
    return str(value)


def _decimal(value: Any, name: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise DocumentError(f"Field {name!r} must be a number, got {value!r}.", field=name)
    try:
        # str() first: a float that slipped through keeps its shortest exact spelling.
        result = Decimal(str(value))
    except InvalidOperation:
        raise DocumentError(
            f"Field {name!r} must be a number, got {value!r}.", field=name
        ) from None
    if not result.is_finite():
        raise DocumentError(f"Field {name!r} must be a finite number, got {value!r}.", field=name)
    return result


def _integer(value: Any, name: str) -> int | None:
    number = _decimal(value, name)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise DocumentError(f"Field {name!r} must be a whole number, got {value!r}.", field=name)
    return int(number)


def _boolean(value: Any, name: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "yes", "no", "1", "0"}:
        return value.strip().lower() in {"true", "yes", "1"}
    raise DocumentError(f"Field {name!r} must be true or false, got {value!r}.", field=name)


def parse_timestamp(value: Any, name: str) -> datetime | None:
    """An aware datetime from ISO 8601 text; a time without offset is read as UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise DocumentError(f"Field {name!r} must be an ISO 8601 time, got {value!r}.", field=name)
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = parse_datetime(text)
    except ValueError:
        parsed = None
    if parsed is None:
        raise DocumentError(f"Field {name!r} must be an ISO 8601 time, got {value!r}.", field=name)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt_timezone.utc)
    return parsed


def _json_object(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DocumentError(f"Field {name!r} must be an object, got {value!r}.", field=name)
    return value


def _json_list(value: Any, name: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DocumentError(f"Field {name!r} must be a list, got {value!r}.", field=name)
    return value


Parser = Callable[[Any, str], Any]

#: Longest order reference stored (``Order.reference``).
MAX_REFERENCE_LENGTH = 64

#: Payload key -> (Order field, parser) for the top level of an order document.
ORDER_FIELDS: dict[str, tuple[str, Parser]] = {
    "authority_to_leave": ("authority_to_leave", _text),
    "cash_on_delivery_amount": ("cash_on_delivery_amount", _decimal),
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
    "duties": ("duties", _decimal),
    "tax_amount": ("tax_amount", _decimal),
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
    "price": ("price", _decimal),
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
    "length": _decimal,
    "width": _decimal,
    "depth": _decimal,
    "weight": _decimal,
    "label_number": _text,
}

PRODUCT_FIELDS: dict[str, Parser] = {
    "price": _decimal,
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


@dataclass(frozen=True)
class LineDocument:
    """One parcel or product line: typed values of the keys present, plus the raw item."""

    values: Mapping[str, Any]
    raw: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class StatusEntry:
    """One step of a provider's status history."""

    status: str
    time: datetime


@dataclass(frozen=True)
class OrderDocument:
    """The provider-neutral form of one order (a full Get Order or a partial webhook).

    ``fields`` holds only the Order fields present in the payload, so a partial
    document (a webhook) never blanks what it does not mention. ``parcels`` and
    ``products`` are ``None`` when the payload does not list them.
    """

    reference: str
    state: str
    fields: Mapping[str, Any]
    parcels: tuple[LineDocument, ...] | None = None
    products: tuple[LineDocument, ...] | None = None
    #: A webhook's ``products``: what shipped (quantities per line), not the order's lines.
    shipped_products: tuple[LineDocument, ...] | None = None
    status_history: tuple[StatusEntry, ...] = ()
    remote_updated_at: datetime | None = None
    is_full: bool = True
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def courier_job_id(self) -> str:
        return self.fields.get("courier_job_id", "")

    @property
    def label_url(self) -> str:
        return self.fields.get("label_url", "")

    def state_time(self) -> datetime | None:
        """When the provider says the current state began, if it says so."""
        for entry in self.status_history:
            if entry.status == self.state:
                return entry.time
        return None


def _lines(items: Any, name: str, parsers: Mapping[str, Parser]) -> tuple[LineDocument, ...]:
    result = []
    for index, item in enumerate(_json_list(items, name)):
        where = f"{name}[{index}]"
        if not isinstance(item, dict):
            raise DocumentError(f"Field {where!r} must be an object, got {item!r}.", field=where)
        values = {
            key: parse(item[key], f"{where}.{key}") for key, parse in parsers.items() if key in item
        }
        result.append(LineDocument(values=values, raw=item))
    return tuple(result)


def _products(payload: Mapping[str, Any]) -> tuple[Any, Any]:
    """(the order's lines, what shipped): each ``None`` when the payload does not say.

    Get Order lists the lines as ``product_attributes``; the create and label
    answers as ``products``. A webhook (``current_state``, no ``state``) lists
    under ``products`` what shipped, which the official plugins use to mark
    shipped items: it records quantities, it does not replace the lines.
    """
    if "product_attributes" in payload:
        lines = _lines(payload["product_attributes"], "product_attributes", PRODUCT_FIELDS)
    elif "products" in payload and "state" in payload:
        lines = _lines(payload["products"], "products", PRODUCT_FIELDS)
    else:
        lines = None
    shipped = None
    if "products" in payload and "current_state" in payload and "state" not in payload:
        shipped = _lines(payload["products"], "products", PRODUCT_FIELDS)
    return lines, shipped


def _status_history(items: Any) -> tuple[StatusEntry, ...]:
    entries = []
    for index, item in enumerate(_json_list(items, "status_history")):
        where = f"status_history[{index}]"
        if not isinstance(item, dict):
            raise DocumentError(f"Field {where!r} must be an object, got {item!r}.", field=where)
        status = _text(item.get("status"), f"{where}.status").strip()
        time = parse_timestamp(item.get("time"), f"{where}.time")
        if status and time:
            entries.append(StatusEntry(status=status, time=time))
    # Newest first, whatever order the provider used.
    return tuple(sorted(entries, key=lambda entry: entry.time, reverse=True))


def parse_order_document(
    payload: Any,
    *,
    reference_keys: tuple[str, ...] = ("tracking_number",),
    state_keys: tuple[str, ...] = ("state", "current_state"),
    field_map: Mapping[str, str] | None = None,
    currency: str = "",
) -> OrderDocument:
    """Parse a provider's order payload (Get Order document or webhook) into a document.

    ``reference_keys`` names where the provider puts its order reference;
    ``field_map`` renames provider keys to the documented ones first (the
    per-account ``FIELD_MAP`` hook); ``currency`` is that of ``price`` when
    the payload does not name one. Raises ``DocumentError`` naming the field.
    """
    if not isinstance(payload, dict):
        raise DocumentError(
            f"An order document must be a JSON object, got {type(payload).__name__}.", field=""
        )
    if field_map:
        payload = {field_map.get(key, key): value for key, value in payload.items()}

    reference = ""
    for key in reference_keys:
        if payload.get(key) not in (None, ""):
            reference = _text(payload[key], key).strip()
            break
    if not reference:
        raise DocumentError(
            f"The order document has no reference ({' or '.join(reference_keys)}).",
            field=reference_keys[0],
        )
    if len(reference) > MAX_REFERENCE_LENGTH:
        raise DocumentError(
            f"Field {key!r} is too long to be an order reference "
            f"({len(reference)} > {MAX_REFERENCE_LENGTH} characters).",
            field=key,
        )

    # The first state key with a value: a null or empty state says nothing, so
    # it must never blank the state already stored.
    state_key, state = None, ""
    for key in state_keys:
        if key in payload:
            state = _text(payload[key], key).strip()
            if state:
                state_key = key
                break
    if len(state) > 64:
        raise DocumentError(
            f"Field {state_key!r} is too long to be a state.", field=state_key or ""
        )

    fields: dict[str, Any] = {}
    for key, (model_field, parse) in ORDER_FIELDS.items():
        if key in payload:
            fields[model_field] = parse(payload[key], key)
    # Get Order says user_attributes; the label answer says user.
    user_key = "user_attributes" if "user_attributes" in payload else "user"
    if user_key in payload:
        user = _json_object(payload[user_key], user_key)
        for key, model_field in USER_FIELDS.items():
            if key in user:
                fields[model_field] = _text(user[key], f"{user_key}.{key}").strip()
    if state_key:
        fields["state"] = state
    if fields.get("price") is not None:
        fields["price_currency"] = _text(
            payload.get("price_currency") or payload.get("currency") or currency, "price_currency"
        ).upper()[:8]
    courier = normalize_courier(fields.get("courier_allocation") or fields.get("courier_name"))
    if courier:
        fields["courier"] = courier

    history = _status_history(payload.get("status_history"))
    parcels = (
        _lines(payload["parcel_attributes"], "parcel_attributes", PARCEL_FIELDS)
        if "parcel_attributes" in payload
        else None
    )
    products, shipped = _products(payload)
    updated_at = parse_timestamp(payload.get("updated_at"), "updated_at")
    if history and (updated_at is None or history[0].time > updated_at):
        updated_at = history[0].time
    return OrderDocument(
        reference=reference,
        state=state,
        fields=fields,
        parcels=parcels,
        products=products,
        shipped_products=shipped,
        status_history=history,
        remote_updated_at=updated_at,
        # A webhook carries current_state and no parcel list: it is partial.
        is_full="parcel_attributes" in payload and "state" in payload,
        raw=payload,
    )
