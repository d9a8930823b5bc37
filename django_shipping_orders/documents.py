"""Provider-neutral order documents: typed values plus the untouched raw payload.

Providers turn their wire format into an :class:`OrderDocument`; ``sync`` turns
documents into rows. Parsing is strict where a wrong value would corrupt the
mirror (the reference, the state, a field of the wrong type) and tolerant
everywhere else: a missing optional key is simply absent, unknown keys live on
in ``raw``. Money and measures become ``Decimal``; datetimes become aware and
keep their instant (the parsers are in ``values.py``).

A number its column cannot hold never fails a document: the field is left
unset, the provider's value stays in ``raw``, and the document's
``warnings`` say so (``Order.data_warnings``, the callback receipt). A
*lenient* parse (the answer to placing an order, whose reference must never
be lost) treats a field of the wrong type the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from . import values
from .bounded import DEFAULT_LIMITS, read
from .bounded import Limits as Limits  # documents.Limits: what loads() accepts
from .couriers import normalize as normalize_courier
from .document_fields import ORDER_FIELDS as ORDER_FIELDS
from .document_fields import PARCEL_FIELDS as PARCEL_FIELDS
from .document_fields import PRODUCT_FIELDS as PRODUCT_FIELDS
from .document_fields import USER_FIELDS as USER_FIELDS
from .document_lines import MAX_LINES as MAX_LINES
from .document_lines import SKIP, FieldReader, read_lines
from .document_lines import LineDocument as LineDocument
from .exceptions import DocumentError


def loads(body: bytes | str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Parse JSON within ``limits``, every number with a fraction as an exact ``Decimal``.

    Raises ``UnreadableDocument`` (a ``DocumentError``) for a body that is not
    JSON or breaks a limit, before any of its values is used (see ``bounded``).
    """
    return read(body, limits)


_text = values.text
_json_list = values.json_list
_json_object = values.json_object
parse_timestamp = values.timestamp

#: Longest order reference stored (``Order.reference``).
MAX_REFERENCE_LENGTH = 64
#: Longest ``data_warnings`` text kept on an order.
MAX_WARNINGS_LENGTH = 2000
#: Order columns not read from one key of their own: the courier (``courier_allocation``
#: or ``courier_name``), the user's details (``user_attributes`` or ``user``), the price's
#: currency and the warnings. Equal keys do not mean equal columns for these.
DERIVED_FIELDS = frozenset({"courier", "price_currency", "data_warnings", *USER_FIELDS.values()})


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
    #: What the document said that could not be stored (kept in ``raw``), one sentence each.
    warnings: tuple[str, ...] = ()
    #: The instant the content was known true (the order clock); set by whoever received
    #: the document, through :meth:`pushed` or :meth:`fetched`.
    as_of: datetime | None = None

    def pushed(self, arrived_at: datetime) -> OrderDocument:
        """This document as the provider pushed it (a webhook, a callback) at ``arrived_at``.

        Known true at the provider's newest time in it (its status history),
        or at its arrival when it gives none. Never later than its arrival:
        a provider clock running ahead must not date the data in the future.
        """
        provider_time = self.remote_updated_at
        as_of = min(provider_time, arrived_at) if provider_time else arrived_at
        return replace(self, as_of=as_of)

    def fetched(self, sent_at: datetime) -> OrderDocument:
        """This document as the answer to a request sent at ``sent_at``: known true then."""
        return replace(self, as_of=sent_at)

    @property
    def courier_job_id(self) -> str:
        return str(self.fields.get("courier_job_id", ""))

    @property
    def label_url(self) -> str:
        return str(self.fields.get("label_url", ""))

    def state_time(self) -> datetime | None:
        """When the provider says the current state began, if it says so."""
        for entry in self.status_history:
            if entry.status == self.state:
                return entry.time
        return None


def _products(
    payload: Mapping[str, Any], reader: FieldReader
) -> tuple[tuple[LineDocument, ...] | None, tuple[LineDocument, ...] | None]:
    """(the order's lines, what shipped): each ``None`` when the payload does not say.

    Get Order lists the lines as ``product_attributes``; the create and label
    answers as ``products`` (with or without a ``state``). A webhook
    (``current_state``, no ``state``) lists under ``products`` what shipped,
    which the official plugins use to mark shipped items: it records
    quantities, it does not replace the lines. A callback is always read
    that way, whatever its keys (:func:`as_pushed`).
    """
    webhook = "current_state" in payload and "state" not in payload
    lines = shipped = None
    if "product_attributes" in payload:
        lines = read_lines(
            payload["product_attributes"], "product_attributes", PRODUCT_FIELDS, reader
        )
    elif "products" in payload and not webhook:
        lines = read_lines(payload["products"], "products", PRODUCT_FIELDS, reader)
    if "products" in payload and webhook:
        shipped = read_lines(payload["products"], "products", PRODUCT_FIELDS, reader)
    return lines, shipped


def as_pushed(document: OrderDocument) -> OrderDocument:
    """``document`` as a callback must be read: its ``products`` are what shipped.

    A webhook that also carries ``state`` would otherwise have its shipped
    items taken for the order's lines, and replace them.
    """
    raw = document.raw
    if document.products is not None and "products" in raw and "product_attributes" not in raw:
        return replace(document, products=None, shipped_products=document.products)
    return document


def _status_history(items: Any, reader: FieldReader) -> tuple[StatusEntry, ...]:
    entries = []
    try:
        listed = _json_list(items, "status_history")
        if len(listed) > MAX_LINES:
            raise DocumentError(
                f"Field 'status_history' lists {len(listed)} entries; the limit is {MAX_LINES}.",
                field="status_history",
            )
    except DocumentError as err:
        reader.refuse(err)
        return ()
    for index, item in enumerate(listed):
        where = f"status_history[{index}]"
        if not isinstance(item, dict):
            reader.refuse(
                DocumentError(f"Field {where!r} must be an object, got {item!r}.", field=where)
            )
            continue
        status = reader.read(_text, item.get("status"), f"{where}.status")
        time = reader.read(parse_timestamp, item.get("time"), f"{where}.time")
        if isinstance(status, str) and status.strip() and isinstance(time, datetime):
            entries.append(StatusEntry(status=values.state(status), time=time))
    # Newest first, whatever order the provider used.
    return tuple(sorted(entries, key=lambda entry: entry.time, reverse=True))


def parse_order_document(
    payload: Any,
    *,
    reference_keys: tuple[str, ...] = ("tracking_number",),
    state_keys: tuple[str, ...] = ("state", "current_state"),
    field_map: Mapping[str, str] | None = None,
    currency: str = "",
    lenient: bool = False,
) -> OrderDocument:
    """Parse a provider's order payload (Get Order document or webhook) into a document.

    ``reference_keys`` names where the provider puts its order reference;
    ``field_map`` renames provider keys to the documented ones first (the
    per-account ``FIELD_MAP`` hook); ``currency`` is that of ``price`` when
    the payload does not name one. Raises ``DocumentError`` naming the field;
    when ``lenient``, only for a payload without a usable reference (any other
    unreadable field becomes a warning).
    """
    if not isinstance(payload, dict):
        raise DocumentError(
            f"An order document must be a JSON object, got {type(payload).__name__}.", field=""
        )
    if field_map:
        payload = {field_map.get(key, key): value for key, value in payload.items()}
    reader = FieldReader(lenient)

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
            given = reader.read(_text, payload[key], key)
            state = values.state(given) if isinstance(given, str) else ""
            if state:
                state_key = key
                break
    if len(state) > 64:
        reader.refuse(
            DocumentError(f"Field {state_key!r} is too long to be a state.", field=state_key or "")
        )
        state_key, state = None, ""

    fields: dict[str, Any] = {}
    for key, (model_field, parse) in ORDER_FIELDS.items():
        if key in payload:
            value = reader.read(parse, payload[key], key)
            if value is not SKIP:
                fields[model_field] = value
    # Get Order says user_attributes; the label answer says user.
    user_key = "user_attributes" if "user_attributes" in payload else "user"
    if user_key in payload:
        user = reader.read(_json_object, payload[user_key], user_key)
        for key, model_field in USER_FIELDS.items():
            if isinstance(user, dict) and key in user:
                value = reader.read(_text, user[key], f"{user_key}.{key}")
                if value is not SKIP:
                    fields[model_field] = value.strip()
    if state_key:
        fields["state"] = state
    if fields.get("price") is not None:
        fields["price_currency"] = _price_currency(payload, currency, reader)
    courier = normalize_courier(fields.get("courier_allocation") or fields.get("courier_name"))
    if courier:
        fields["courier"] = courier

    history = _status_history(payload.get("status_history"), reader)
    parcels = (
        read_lines(payload["parcel_attributes"], "parcel_attributes", PARCEL_FIELDS, reader)
        if "parcel_attributes" in payload
        else None
    )
    products, shipped = _products(payload, reader)
    updated_at = reader.read(parse_timestamp, payload.get("updated_at"), "updated_at")
    updated_at = updated_at if isinstance(updated_at, datetime) else None
    if history and (updated_at is None or history[0].time > updated_at):
        updated_at = history[0].time
    is_full = "parcel_attributes" in payload and "state" in payload
    if reader.warnings:
        fields["data_warnings"] = " ".join(reader.warnings)[:MAX_WARNINGS_LENGTH]
    elif is_full:
        fields["data_warnings"] = ""  # a full document that reads cleanly clears old warnings
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
        is_full=is_full,
        raw=payload,
        warnings=tuple(reader.warnings),
    )


def _price_currency(payload: Mapping[str, Any], default: str, reader: FieldReader) -> str:
    """The ISO 4217 code the payload names for ``price`` (else ``default``); "" when unreadable."""
    for key in ("price_currency", "currency"):
        if payload.get(key) not in (None, ""):
            try:
                return values.currency(payload[key], key)
            except DocumentError as err:
                # Never a reason to refuse the document: the price is still right.
                reader.warnings.append(str(err))
                return ""
    return default.strip().upper()[:8]
