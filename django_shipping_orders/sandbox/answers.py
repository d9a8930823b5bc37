"""The answers of the Shippit API as its published examples show them.

Create (the Get Order document plus the create example's keys), cancel (the
whole cancelled order), label (the order with its ``documents``), tracking
(``track`` with ``status_owner`` and ``success``), booking (one entry per
courier manifest), merchant and quotes. Pure functions of the world and a
simulated time, like ``dialects``.
"""

from __future__ import annotations

from typing import Any

from .dialects import REF_KEY, Links, courier_name, render_document
from .simulated_time import utc_iso
from .world import SandboxOrder


def _products(order: SandboxOrder) -> list[dict[str, Any]]:
    return [dict(p) for p in order.fields.get("product_attributes") or []]


def create_response(order: SandboxOrder, at: float, links: Links) -> dict[str, Any]:
    """Place Order's ``response``: the Get Order document with the keys of the published
    create example beside it (``products``, ``price``, ``courier_name`` ...)."""
    doc = render_document(order, at, links)
    doc.update(
        {
            "id": order.order_id,
            "slug": order.ref.lower(),
            "processing_state": "created",
            # Known once a courier is allocated (never at placing, in the sandbox).
            "courier_name": courier_name(order) if order.allocated(at) else "",
            "courier_job_id": order.courier_job_id if order.allocated(at) else "",
            "courier_delivery_instructions": order.fields.get("delivery_instructions") or "",
            "products": _products(order),
            "price": order.price,
        }
    )
    return doc


def cancel_response(order: SandboxOrder, at: float) -> dict[str, Any]:
    """Cancel's ``response``: the whole cancelled order, keyed as the published example
    (its ``processing_state`` keeps the example's leading space)."""
    f = order.fields
    user = f.get("user_attributes") or {}
    return {
        "id": order.order_id,
        REF_KEY[order.dialect]: order.ref,
        "state": order.state_at(at),
        "processing_state": " processing_cancelled",
        "delivery_address": f.get("delivery_address"),
        "delivery_suburb": f.get("delivery_suburb"),
        "delivery_postcode": f.get("delivery_postcode"),
        "receiver_name": f.get("receiver_name"),
        "receiver_contact_number": f.get("receiver_contact_number"),
        "courier_name": courier_name(order),
        "slug": order.ref.lower(),
        "price": order.price,
        "retailer_invoice": f.get("retailer_invoice"),
        "courier_job_id": order.courier_job_id,
        "user_attributes": {k: user.get(k) for k in ("email", "first_name", "last_name")},
        "parcel_attributes": [dict(p) for p in f.get("parcel_attributes") or []],
    }


def is_international(order: SandboxOrder) -> bool:
    """Orders leaving Australia need a customs invoice."""
    country = str(order.fields.get("delivery_country_code") or "AU").upper()
    return order.dialect == "shippit" and country != "AU"


_LABEL_ORDER_KEYS = (
    "delivery_address",
    "delivery_instructions",
    "delivery_postcode",
    "delivery_state",
    "delivery_suburb",
    "receiver_contact_number",
    "receiver_language_code",
    "receiver_name",
    "retailer_invoice",
)


def label_response(order: SandboxOrder, at: float, links: Links) -> dict[str, Any]:
    """Get Label's ``response`` as the published example (the caller checks the label exists)."""
    f = order.fields
    user = f.get("user_attributes") or {}
    parcels = [
        {
            **{k: parcel.get(k) for k in ("depth", "length", "weight", "width")},
            "name": "",
            "label_number": number,
            "courier_data": {"product_code": "SBX", "pickup_zone": "SYD", "dropoff_zone": ""},
        }
        for parcel, number in zip(
            f.get("parcel_attributes") or [{}], order.label_numbers, strict=False
        )
    ]
    label = links.label_url(order.ref, at)
    # As the published example: the A6 label listed as its one document, archive_awb.
    documents = {"archive_awb": {"url": label, "page_size": "a6", "file_type": "pdf"}}
    if is_international(order):
        documents["commercial_invoice"] = {
            "url": links.document_url(order.ref, "commercial_invoice", at),
            "page_size": "a4",
            "file_type": "pdf",
        }
    return {
        "id": order.order_id + 5000,
        "qualified_url": label,
        "order": {
            "courier_delivery_instructions": f.get("delivery_instructions") or "",
            "courier_job_id": order.courier_job_id,
            **{key: f.get(key) or "" for key in _LABEL_ORDER_KEYS},
            "id": order.order_id,
            "invoice_number": f.get("retailer_invoice") or "",
            "parcels": parcels,
            "products": _products(order),
            "price": order.price,
            "slug": order.ref.lower(),
            "state": order.state_at(at),
            REF_KEY[order.dialect]: order.ref,
            "user": {k: user.get(k) or "" for k in ("email", "first_name", "last_name", "mobile")},
            "customs_documents_require_printing": is_international(order),
            "documents": documents,
        },
    }


#: Tracking statuses spelled as the published example spells them, where title case differs.
_TITLES = {"ready_for_pickup": "Ready For Pick Up"}


def _title(state: str) -> str:
    return _TITLES.get(state) or state.replace("_", " ").title()


def _status_owner(order: SandboxOrder, state: str) -> str:
    """Who reported the step: the shop until the courier has the parcel."""
    if state in ("processing", "order_placed", "despatch_in_progress", "ready_for_pickup"):
        return "Sandbox Shop"
    return courier_name(order)


def tracking_response(order: SandboxOrder, at: float, links: Links) -> dict[str, Any]:
    """Get Tracking's ``response``: ``track`` newest first, title-case statuses, ``success``."""
    track = [
        {
            "status": _title(state),
            "date": utc_iso(when),
            "timestamp": int(when) % 86400,
            "status_owner": _status_owner(order, state),
        }
        for state, when in reversed(order.history_at(at))
    ]
    return {
        REF_KEY[order.dialect]: order.ref,
        "tracking_url": links.tracking_url(order.ref),
        "success": True,
        "track": track,
    }


def merchant_response(api_key: str, dialect: str, webhook_url: str | None) -> dict[str, Any]:
    """``GET``/``PUT /merchant``'s ``response``: the account the key belongs to."""
    number = sum(api_key.encode()) % 9000 + 1000
    return {
        "id": number,
        "name": f"Sandbox Merchant {number}",
        "email": f"merchant{number}@sandbox.invalid",
        "billing_address": {
            "address": "1 Sandbox Street",
            "suburb": "Sydney" if dialect == "shippit" else "Rīga",
            "state": "NSW" if dialect == "shippit" else "",
            "postcode": "2000" if dialect == "shippit" else "LV-1010",
            "country_code": "AU" if dialect == "shippit" else "LV",
        },
        "webhook_url": webhook_url or "",
    }


#: Courier types the sandbox quotes: (courier_type, service level, base fee, per kg, max kg).
QUOTE_COURIERS = (
    ("CouriersPlease", "standard", 7.95, 0.95, 25.0),
    ("Aramex", "standard", 8.45, 0.85, 30.0),
    ("StarTrack", "express", 12.50, 1.40, 40.0),
    ("Bonds", "priority", 19.90, 2.10, 20.0),
)
QUOTE_MISMATCH = (
    "Unable to calculate quote. Please check if suburb, state, and postcode match correctly."
)


class QuoteInvalid(ValueError):
    """A quote request that cannot be generated at all (400)."""


def quotes_response(payload: Any) -> list[dict[str, Any]]:
    """``POST /quotes``'s ``response``: one entry per courier type and service level.

    A courier that cannot take the parcels answers ``success: false`` with its
    reason, beside the others, as the documentation describes; a request
    that names no destination or no parcels raises :class:`QuoteInvalid`.
    """
    quote = payload.get("quote") if isinstance(payload, dict) else None
    if not isinstance(quote, dict):
        raise QuoteInvalid('The body must be {"quote": {...}}.')
    parcels = quote.get("parcel_attributes")
    if not quote.get("dropoff_postcode") or not quote.get("dropoff_suburb"):
        raise QuoteInvalid("dropoff_postcode and dropoff_suburb are required.")
    if (
        not isinstance(parcels, list)
        or not parcels
        or not all(isinstance(p, dict) for p in parcels)
    ):
        raise QuoteInvalid("parcel_attributes must list at least one parcel.")
    try:
        weight = sum(float(p.get("weight") or 0) * int(p.get("qty") or 1) for p in parcels)
    except (TypeError, ValueError):
        raise QuoteInvalid("qty and weight must be numbers.") from None
    postcode = str(quote["dropoff_postcode"]).strip()
    wanted = quote.get("service_levels") or None
    entries = []
    for courier, level, base, per_kg, max_kg in QUOTE_COURIERS:
        if wanted and level not in wanted:
            continue
        entry: dict[str, Any] = {"courier_type": courier, "service_level": level}
        if not (postcode.isdigit() and len(postcode) == 4):
            entries.append({**entry, "success": False, "message": QUOTE_MISMATCH, "quotes": []})
            continue
        if weight > max_kg:
            text = f"Unable to calculate quote. The parcels weigh more than {max_kg:g} kg."
            entries.append({**entry, "success": False, "message": text, "quotes": []})
            continue
        price = round(base + per_kg * weight, 2)
        option: dict[str, Any] = {"price": price}
        if level == "priority":
            option.update(
                {
                    "delivery_date": str(quote.get("order_date") or ""),
                    "delivery_window": "07:00-10:00",
                    "delivery_window_desc": "7:00 AM - 10:00 AM",
                    "courier_type": courier,
                }
            )
        else:
            option["estimated_transit_time"] = (
                "1 business day" if level == "express" else "3 business days"
            )
        entries.append({**entry, "success": True, "quotes": [option]})
    return entries
