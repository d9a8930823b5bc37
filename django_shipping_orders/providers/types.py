"""What adapters return besides order documents: labels, bookings, quotes, tracking, merchant.

Plain frozen dataclasses, provider-neutral, with ``Decimal`` money and aware
datetimes; each keeps the provider's own item in ``raw``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..documents import OrderDocument


@dataclass(frozen=True)
class DocumentLink:
    """One entry of the label answer's ``documents``: where a printable file is."""

    kind: str
    url: str
    page_size: str = ""
    file_type: str = ""


@dataclass(frozen=True)
class LabelInfo:
    """Where the provider keeps an order's label, and the numbers printed on it."""

    url: str
    courier_job_id: str = ""
    label_numbers: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    #: Every document of the label answer (the label, a customs invoice ...).
    documents: tuple[DocumentLink, ...] = ()
    #: The label answer's ``order``, read as a (partial) order document, if it had one.
    order: OrderDocument | None = field(default=None, repr=False)
    #: When the request was sent (``services.get_label`` sets it): the answer's as-of time.
    fetched_at: datetime | None = None


@dataclass(frozen=True)
class ManifestResult:
    """One courier's entry of a booking answer."""

    courier: str
    success: bool
    manifest: str = ""
    manifest_pdf: str = ""
    order_count: int | None = None
    error: str = ""
    error_description: str = ""
    #: The orders the entry names: on failure, the ones not booked.
    orders: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class BookingResult:
    """The answer to a pickup booking: one entry per courier manifest."""

    manifests: tuple[ManifestResult, ...]
    raw: Any = field(default=None, repr=False)

    @property
    def manifest_url(self) -> str:
        """The first successful manifest's PDF URL ("" when none succeeded)."""
        return next((m.manifest_pdf for m in self.manifests if m.success and m.manifest_pdf), "")

    @property
    def failed_references(self) -> tuple[str, ...]:
        return tuple(ref for m in self.manifests if not m.success for ref in m.orders)


@dataclass(frozen=True)
class QuoteOption:
    """One priced option of a courier's quote."""

    price: Decimal
    estimated_transit_time: str = ""
    delivery_date: str = ""
    delivery_window: str = ""
    delivery_window_desc: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class CourierQuote:
    """A courier's answer to a quote request: its options, or why it has none."""

    courier_type: str
    service_level: str
    success: bool
    options: tuple[QuoteOption, ...] = ()
    error: str = ""
    error_description: str = ""
    currency: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def cheapest(self) -> QuoteOption | None:
        return min(self.options, key=lambda option: option.price, default=None)


@dataclass(frozen=True)
class TrackingEvent:
    """One step of Get Tracking, newest first as the provider lists them."""

    status: str
    date: datetime | None
    status_owner: str = ""


@dataclass(frozen=True)
class Tracking:
    """Get Tracking: the customer tracking page and the courier's events."""

    reference: str
    tracking_url: str
    events: tuple[TrackingEvent, ...]
    success: bool = True
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class MerchantInfo:
    """``GET /merchant``: who the API key belongs to, and where its webhooks go."""

    name: str
    email: str = ""
    webhook_url: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
