"""Wire formats of the two providers the sandbox imitates.

Both speak the same order document (Shippit's Get Order, which Sender.lv's
adapter also reads); they differ in the reference key, in wrapping and in
their callbacks. Everything here is a pure function of an order and a
simulated time, so the HTTP handler and the callback dispatcher render the
same document for the same moment.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, quote

from .simulated_time import iso, utc_iso
from .world import SandboxOrder

#: The Get Order example of the Shippit documentation: every key a document
#: carries, and the value used when the placed order did not give one.
FIXTURE_DEFAULTS: dict[str, Any] = {
    "authority_to_leave": "Yes",
    "cash_on_delivery_amount": 0.0,
    "courier_type": "standard",
    "courier_allocation": "",
    "receiver_contact_number": "0400000000",
    "receiver_name": "Receiver Name",
    "receiver_language_code": "EN",
    "retailer_invoice": "Retailer Invoice",
    "retailer_reference": "Retailer Reference",
    "product_currency": "AUD",
    "suppress_communications": False,
    "tracking_only": False,
    "features": [],
    "description": "",
    "duties": 0.0,
    "tax_amount": 0.0,
    "customs_clearance_attributes": {
        "tax_id_type": "GBVAT",
        "tax_id_country_code": "GB",
        "tax_id_number": "GB 334 8373 88",
        "incoterm": "DDP",
        "export_reason": "Personal Belongings or Personal Use",
        "receiver_freight_charge_amount": 10.0,
        "recipient_id": "123",
    },
    "return": False,
    "pickup_at": None,
    "pickup_deadline_at": None,
    "dropoff_at": None,
    "dropoff_deadline_at": None,
    "delivery_company": "Delivery Company",
    "delivery_address": "1 Test Street",
    "delivery_suburb": "Sydney",
    "delivery_state": "NSW",
    "delivery_postcode": "2000",
    "delivery_country_code": "AU",
    "delivery_timezone": "Australia/Sydney",
    "delivery_instructions": "Leave on door",
    "state": "processing",
    "user_attributes": {
        "email": "test@example.com",
        "first_name": "Test",
        "last_name": "Example",
        "mobile": "0400000000",
    },
    "parcel_attributes": [],
    "product_attributes": [],
}

#: Keys the provider decides; whatever the shop posts for them is ignored.
COMPUTED_KEYS = frozenset(
    {
        "state",
        "courier_allocation",
        "pickup_at",
        "pickup_deadline_at",
        "dropoff_at",
        "dropoff_deadline_at",
    }
)
_MONEY_KEYS = ("cash_on_delivery_amount", "duties", "tax_amount")
_EXTRA_KEYS = ("retailer_order_number", "delivery_latitude", "delivery_longitude")

REF_KEY = {"shippit": "tracking_number", "senderlv": "order_reference"}

#: States from which DELETE still cancels.
CANCELLABLE = frozenset(
    {"processing", "order_placed", "accepted", "despatch_in_progress", "ready_for_pickup"}
)

#: Courier names as Shippit's webhook and answers spell them (the document says
#: courier_allocation "CouriersPlease", the webhook courier_name "Couriers Please").
COURIER_DISPLAY = {"CouriersPlease": "Couriers Please"}

#: Label 422 codes, as documented.
LABEL_NOT_AVAILABLE = "order_not_available_to_label"
LABEL_FAILED_PROCESSING = "label_failed_order_processing"
LABEL_MISSING_COURIER = "label_failed_missing_courier"

_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "invalid_merchant_account": {
        "en": "An unknown error has occurred.",
        "lv": "Radās nezināma kļūda.",
        "ru": "Произошла неизвестная ошибка.",
    },
    "not_found": {
        "en": "The requested resource could not be found.",
        "lv": "Pieprasītais resurss netika atrasts.",
        "ru": "Запрошенный ресурс не найден.",  # noqa: RUF001
    },
    "order_cannot_be_cancelled": {
        "en": "The order can no longer be cancelled.",
        "lv": "Pasūtījumu vairs nevar atcelt.",
        "ru": "Заказ больше нельзя отменить.",
    },
    LABEL_NOT_AVAILABLE: {
        "en": "The label is not available until a courier has been allocated.",
        "lv": "Etiķete nav pieejama, kamēr nav piešķirts kurjers.",
        "ru": "Этикетка недоступна, пока не назначен курьер.",
    },
    LABEL_FAILED_PROCESSING: {
        "en": "The order failed processing; no label can be made.",
        "lv": "Pasūtījuma apstrāde neizdevās; etiķeti nevar izveidot.",
        "ru": "Заказ не прошёл обработку; этикетку создать нельзя.",
    },
}


class OrderInvalid(ValueError):
    """A placed order the provider would refuse with 422."""


def error(code: str, description: str | None = None, lang: str = "en", **extra: Any) -> dict:
    """The providers' error body ``{"error", "error_description"}``, in ``lang`` if known."""
    texts = _DESCRIPTIONS.get(code, {})
    text = description or texts.get(lang) or texts.get("en") or code.replace("_", " ")
    return {"error": code, "error_description": text, **extra}


def _money(value: Any, where: str) -> float:
    """A money amount rounded to cents; floats on the wire, like the providers."""
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError) as err:
        raise OrderInvalid(f"{where} must be a number") from err
    return float(amount)


def normalize_order(payload: Any) -> dict[str, Any]:
    """Validate a Place Order body (wrapped or not) and keep the fields the document echoes."""
    if isinstance(payload, dict) and isinstance(payload.get("order"), dict):
        payload = payload["order"]
    if not isinstance(payload, dict):
        raise OrderInvalid("The order must be a JSON object.")
    if not str(payload.get("delivery_address") or "").strip():
        raise OrderInvalid("delivery_address can't be blank")
    parcels = payload.get("parcel_attributes")
    if not isinstance(parcels, list) or not parcels:
        raise OrderInvalid("parcel_attributes must contain at least one parcel")
    if not all(isinstance(p, dict) for p in parcels):
        raise OrderInvalid("each parcel must be a JSON object")
    products = payload.get("product_attributes") or []
    if not isinstance(products, list) or not all(isinstance(p, dict) for p in products):
        raise OrderInvalid("product_attributes must be a list of objects")
    fields: dict[str, Any] = {}
    for key, default in FIXTURE_DEFAULTS.items():
        if key in COMPUTED_KEYS:
            continue
        value = payload.get(key)
        fields[key] = copy.deepcopy(default) if value is None else value
    for key in _MONEY_KEYS:
        fields[key] = _money(fields[key], key)
    customs = fields["customs_clearance_attributes"]
    if isinstance(customs, dict) and customs.get("receiver_freight_charge_amount") is not None:
        customs["receiver_freight_charge_amount"] = _money(
            customs["receiver_freight_charge_amount"], "receiver_freight_charge_amount"
        )
    fields["parcel_attributes"] = [
        {k: v for k, v in p.items() if k != "label_number"} for p in parcels
    ]
    fields["product_attributes"] = [
        {**p, "price": _money(p["price"], "price")} if p.get("price") is not None else dict(p)
        for p in products
    ]
    for key in _EXTRA_KEYS:
        if payload.get(key) is not None:
            fields[key] = payload[key]
    return fields


class Links:
    """Public URLs the sandbox hands out; label and manifest URLs are pre-signed."""

    def __init__(self, base_url: str, signing_key: bytes, ttl: float = 7 * 24 * 3600) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = signing_key
        self.ttl = ttl

    def _signature(self, path: str, expires: int) -> str:
        message = f"{path}?{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def signed(self, path: str, at: float) -> str:
        """``path`` on the sandbox with an expiry ``ttl`` after simulated time ``at``."""
        expires = int(at + self.ttl)
        return f"{self.base_url}{path}?expires={expires}&signature={self._signature(path, expires)}"

    def verify(self, path: str, query: str, now: float) -> bool:
        """Whether a pre-signed URL is genuine and not expired at ``now``."""
        params = parse_qs(query)
        try:
            expires = int(params["expires"][0])
            signature = params["signature"][0]
        except (KeyError, IndexError, ValueError):
            return False
        good = hmac.compare_digest(signature, self._signature(path, expires))
        return good and now <= expires

    def tracking_url(self, ref: str) -> str:
        """The customer-facing tracking page."""
        return f"{self.base_url}/tracking/{quote(ref)}"

    def label_url(self, ref: str, at: float) -> str:
        """Pre-signed label PDF URL issued at ``at``."""
        return self.signed(f"/labels/{quote(ref)}.pdf", at)

    def manifest_url(self, manifest_id: str, at: float) -> str:
        """Pre-signed manifest PDF URL issued at ``at``."""
        return self.signed(f"/manifests/{quote(manifest_id)}.pdf", at)

    def document_url(self, ref: str, kind: str, at: float) -> str:
        """Pre-signed URL of one of an order's label documents (a customs invoice ...)."""
        return self.signed(f"/documents/{quote(ref)}/{quote(kind)}.pdf", at)


def render_document(order: SandboxOrder, at: float, links: Links) -> dict[str, Any]:
    """The Get Order document as it reads at simulated time ``at``."""
    allocated = order.allocated(at)
    fields = order.fields
    doc: dict[str, Any] = {}
    for key in FIXTURE_DEFAULTS:
        doc[key] = fields.get(key) if key not in COMPUTED_KEYS else None
    doc["state"] = order.state_at(at)
    parcels = [dict(p) for p in fields["parcel_attributes"]]
    if allocated:
        pickup = order.pickup_at or order.processed_at
        dropoff = order.planned("completed")
        doc["courier_allocation"] = order.courier
        doc["pickup_at"] = iso(pickup)
        doc["pickup_deadline_at"] = iso(pickup + 4 * 3600)
        doc["dropoff_at"] = iso(dropoff)
        doc["dropoff_deadline_at"] = iso(dropoff + 24 * 3600) if dropoff else None
        for parcel, number in zip(parcels, order.label_numbers, strict=False):
            parcel["label_number"] = number
    else:
        doc["courier_allocation"] = ""
    doc["parcel_attributes"] = parcels
    doc["product_attributes"] = [dict(p) for p in fields["product_attributes"]]
    doc[REF_KEY[order.dialect]] = order.ref
    doc["courier_job_id"] = order.courier_job_id if allocated else ""
    doc["tracking_url"] = links.tracking_url(order.ref)
    # Issued at the start of the current simulated day (or at allocation): the same
    # URL all day, so an unchanged order reads unchanged, and always valid 6+ days.
    issued = max(order.allocated_at or at, at - at % 86400)
    doc["label_url"] = links.label_url(order.ref, issued) if allocated else ""
    return doc


def courier_name(order: SandboxOrder) -> str:
    """The courier as Shippit's answers and webhooks name it."""
    return COURIER_DISPLAY.get(order.courier, order.courier)


def wrap(
    dialect: str, body: dict[str, Any] | list[dict[str, Any]]
) -> dict[str, Any] | list[dict[str, Any]]:
    """Shippit wraps most responses in ``{"response": ...}``; Sender.lv does not."""
    return {"response": body} if dialect == "shippit" else body


def shippit_webhook(order: SandboxOrder, state: str, at: float, links: Links) -> dict[str, Any]:
    """The body Shippit POSTs when ``order`` entered ``state`` at ``at``."""
    fields = order.fields
    allocated = order.allocated(at)
    history = [{"status": s, "time": utc_iso(w)} for s, w in reversed(order.history_at(at))]
    return {
        "tracking_number": order.ref,
        "expected_delivery_date": iso(order.planned("completed")) if allocated else None,
        "tracking_url": links.tracking_url(order.ref),
        "current_state": state,
        "retailer_order_number": fields.get("retailer_order_number")
        or fields.get("retailer_reference"),
        "retailer_reference": fields.get("retailer_reference"),
        "courier_name": courier_name(order) if allocated else None,
        "courier_job_id": order.courier_job_id if allocated else None,
        "delivery_address": fields.get("delivery_address"),
        "delivery_suburb": fields.get("delivery_suburb"),
        "delivery_postcode": fields.get("delivery_postcode"),
        "delivery_state": fields.get("delivery_state"),
        "delivery_country_code": fields.get("delivery_country_code"),
        "delivery_latitude": fields.get("delivery_latitude"),
        "delivery_longitude": fields.get("delivery_longitude"),
        "merchant_url": links.base_url,
        "status_history": history,
        "products": [
            {k: p.get(k) for k in ("quantity", "sku", "title", "product_line_id")}
            for p in fields.get("product_attributes") or []
        ],
    }


def callback_body(order: SandboxOrder, state: str, at: float, links: Links) -> dict[str, Any]:
    """What the provider POSTs: Shippit's webhook, or Sender.lv's Get Order document."""
    if order.dialect == "shippit":
        return shippit_webhook(order, state, at, links)
    return render_document(order, at, links)


def receiver_lines(order: SandboxOrder) -> list[str]:
    """The address block printed on a label."""
    f = order.fields
    return [
        str(f.get("receiver_name") or ""),
        str(f.get("delivery_company") or ""),
        str(f.get("delivery_address") or ""),
        " ".join(
            str(f.get(k) or "") for k in ("delivery_suburb", "delivery_state", "delivery_postcode")
        ).strip(),
        str(f.get("delivery_country_code") or ""),
    ]
