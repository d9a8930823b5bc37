"""Shippit API v3 (https://app.shippit.com/api/3), read as its published examples show it.

Bodies are wrapped as ``{"response": …}`` (Get Order's example is not; both
are accepted). ``POST /book`` answers a list, one entry per courier
manifest, each with its own ``success``; ``GET /label`` answers the label
URL beside the order (its ``state``, ``products``, ``price`` and
``documents``); ``DELETE`` answers the whole cancelled order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, ClassVar

from .. import values
from ..client import quote_reference
from ..documents import OrderDocument, parse_timestamp
from ..exceptions import (
    DocumentError,
    InvalidProviderResponse,
    LabelNotReady,
    ProviderValidationError,
)
from .base import Provider, require_dict
from .types import (
    BookingResult,
    CourierQuote,
    DocumentLink,
    LabelInfo,
    ManifestResult,
    MerchantInfo,
    QuoteOption,
    Tracking,
    TrackingEvent,
)

PRODUCTION_URL = "https://app.shippit.com/api/3"
STAGING_URL = "https://app.staging.shippit.com/api/3"
#: The label endpoint's documented 422 codes (all mean "no label yet").
LABEL_NOT_READY_CODES = frozenset(
    {
        "order_not_available_to_label",
        "label_failed_order_processing",
        "label_failed_missing_courier",
        "label_not_ready",
    }
)
MAX_BOOKING = 1000


class ShippitProvider(Provider):
    """Bearer key per merchant account; bodies wrapped as ``{"response": …}`` (mostly)."""

    name: ClassVar[str] = "shippit"
    default_base_url: ClassVar[str] = PRODUCTION_URL
    reference_keys: ClassVar[tuple[str, ...]] = ("tracking_number",)
    # Pre-signed label URLs point at Shippit's own hosts and its file bucket.
    default_label_hosts: ClassVar[tuple[str, ...]] = ("shippit.com", "amazonaws.com")
    supports_booking: ClassVar[bool] = True
    #: The label answer lists documents (label, customs invoice ...) to store.
    supports_label_documents: ClassVar[bool] = True
    default_currency: ClassVar[str] = "AUD"

    def extra_headers(self) -> dict[str, str]:
        return {"x-shippit-platform": self.account.platform} if self.account.platform else {}

    # -- labels ---------------------------------------------------------------------------

    def get_label(self, reference: str) -> LabelInfo:
        try:
            body = self.client.get(
                f"orders/{quote_reference(reference)}/label", reference=reference
            )
        except ProviderValidationError as err:
            if err.status_code == 422 and not isinstance(err, LabelNotReady):
                raise LabelNotReady(
                    str(err),
                    status_code=422,
                    code=err.code,
                    description=err.description,
                    account=err.account,
                    reference=reference,
                ) from err
            raise
        payload = require_dict(self.unwrap(body), "GET label", self.account.alias)
        given = payload.get("order")
        order: dict[str, Any] = given if isinstance(given, dict) else {}
        about = _text(order.get("tracking_number")).strip()
        if about and about != reference:
            # Like Get Order: an answer about another order must not become this one's label.
            raise InvalidProviderResponse(
                f"GET /orders/{reference}/label answered about order {about[:64]!r}.",
                account=self.account.alias,
                reference=reference,
            )
        documents = _documents(order.get("documents"))
        url = payload.get("qualified_url") or _label_document_url(documents)
        if not isinstance(url, str) or not url:
            raise InvalidProviderResponse(
                f"GET /orders/{reference}/label answered without a qualified_url or documents.",
                account=self.account.alias,
                reference=reference,
            )
        listed = order.get("parcels")
        parcels: list[Any] = listed if isinstance(listed, list) else []
        numbers = tuple(
            str(p["label_number"]) for p in parcels if isinstance(p, dict) and p.get("label_number")
        )
        return LabelInfo(
            url=url,
            courier_job_id=str(order.get("courier_job_id") or ""),
            label_numbers=numbers,
            raw=payload,
            documents=documents,
            order=self._label_order(order, reference),
        )

    def _label_order(self, order: dict[str, Any], reference: str) -> OrderDocument | None:
        """The label answer's ``order`` as a partial document (``None`` if unreadable)."""
        if not order:
            return None
        payload = dict(order)
        payload.setdefault("tracking_number", reference)
        try:
            document = self.parse_document(payload)
        except DocumentError:
            return None
        return document if document.reference == reference else None

    # -- booking --------------------------------------------------------------------------

    def book(self, references: Iterable[str]) -> BookingResult:
        refs = [str(r) for r in references]
        if not 0 < len(refs) <= MAX_BOOKING:
            raise ValueError(f"Shippit books between 1 and {MAX_BOOKING} orders at a time.")
        body = self.client.post("book", json={"orders": refs}, retry=False)
        entries = body.get("response", body) if isinstance(body, dict) else body
        if isinstance(entries, dict):
            entries = [entries]  # one manifest, unwrapped from its list
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise InvalidProviderResponse(
                "POST /book: expected a list of manifests.", account=self.account.alias
            )
        return BookingResult(manifests=tuple(_manifest(e) for e in entries), raw=body)

    # -- tracking, merchant, quotes ---------------------------------------------------------

    def get_tracking(self, reference: str) -> Tracking:
        body = self.client.get(f"orders/{quote_reference(reference)}/tracking", reference=reference)
        payload = require_dict(self.unwrap(body), "GET tracking", self.account.alias)
        track = payload.get("track")
        if track is not None and not isinstance(track, list):
            raise InvalidProviderResponse(
                f"GET /orders/{reference}/tracking: 'track' must be a list, "
                f"got {type(track).__name__}.",
                account=self.account.alias,
                reference=reference,
            )
        events = []
        for item in track or []:
            if not isinstance(item, dict):
                continue
            try:
                when = parse_timestamp(item.get("date"), "track.date")
            except DocumentError:
                when = None
            events.append(
                TrackingEvent(
                    status=str(item.get("status") or ""),
                    date=when,
                    status_owner=str(item.get("status_owner") or ""),
                )
            )
        return Tracking(
            reference=str(payload.get("tracking_number") or reference),
            tracking_url=str(payload.get("tracking_url") or ""),
            events=tuple(events),
            success=payload.get("success") not in (False, "false", "False", 0),
            raw=payload,
        )

    def get_merchant(self) -> MerchantInfo:
        merchant = _merchant(self.unwrap(self.client.get("merchant")), self.account.alias)
        if not (merchant.name or merchant.email or merchant.webhook_url):
            # An empty 200 (a proxy, a login page's JSON) must not read as "the key works".
            raise InvalidProviderResponse(
                "GET /merchant: the answer is not a merchant (no name, email or webhook URL).",
                account=self.account.alias,
            )
        return merchant

    def set_webhook_url(self, url: str) -> MerchantInfo:
        body = self.client.request("PUT", "merchant", json={"merchant": {"webhook_url": url}})
        return _merchant(self.unwrap(body), self.account.alias)

    def get_quotes(self, quote: Mapping[str, Any]) -> tuple[CourierQuote, ...]:
        # Nothing is created by a quote, so it may be retried like a GET.
        body = self.client.post("quotes", json={"quote": dict(quote)}, retry=True)
        entries = body.get("response", body) if isinstance(body, dict) else body
        if not isinstance(entries, list):
            raise InvalidProviderResponse(
                "POST /quotes: expected a list of courier quotes.", account=self.account.alias
            )
        currency = self.account.currency or self.default_currency
        return tuple(_courier_quote(e, currency) for e in entries if isinstance(e, dict))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _documents(value: Any) -> tuple[DocumentLink, ...]:
    if not isinstance(value, dict):
        return ()
    return tuple(
        DocumentLink(
            kind=_kind(str(kind)),
            url=_text(item.get("url")),
            page_size=_text(item.get("page_size"))[:16],
            file_type=_text(item.get("file_type"))[:16],
        )
        for kind, item in value.items()
        if isinstance(item, dict) and item.get("url")
    )


def _kind(name: str) -> str:
    """A document's name as stored (64 characters): a longer one keeps a digest of the rest,
    so two names alike for 64 characters stay two documents."""
    if len(name) <= 64:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{name[:51]}~{digest}"


def _label_document_url(documents: tuple[DocumentLink, ...]) -> str:
    """The label among the documents when the answer has no ``qualified_url``.

    The published example has only ``documents``: its ``label`` entry, else
    the first A6 PDF (label printers print A6), else the first document.
    """
    tests: list[Callable[[DocumentLink], bool]] = [
        lambda d: d.kind == "label",
        lambda d: d.page_size.lower() == "a6" and d.file_type.lower() in ("", "pdf"),
        lambda d: True,
    ]
    for test in tests:
        found = next((d.url for d in documents if test(d)), "")
        if found:
            return found
    return ""


def _manifest(entry: dict[str, Any]) -> ManifestResult:
    listed = entry.get("orders")
    orders: list[Any] = listed if isinstance(listed, list) else []
    return ManifestResult(
        courier=_text(entry.get("courier")),
        success=entry.get("success") is True,
        manifest=_text(entry.get("manifest")),
        manifest_pdf=_text(entry.get("manifest_pdf") or entry.get("manifest_url")),
        order_count=_count(entry.get("order_count")),
        error=_text(entry.get("error")),
        error_description=_text(entry.get("error_description") or entry.get("message")),
        orders=tuple(
            ref
            for ref in (
                _text(o.get("tracking_number") if isinstance(o, dict) else o).strip()
                for o in orders
            )
            if ref
        ),
        raw=entry,
    )


def _count(value: Any) -> int | None:
    """A count the answer gives (``order_count``): a whole number from 0 up, else ``None``.

    -1, 10^20, 2.5 or ``"many"`` say nothing usable; the entry is still
    recorded (the booking happened), its raw answer keeps what was sent.
    """
    try:
        count = values.integer(value, "order_count")
    except DocumentError:
        return None
    return count if count is not None and count >= 0 else None


def _merchant(payload: Any, alias: str) -> MerchantInfo:
    data = require_dict(payload, "merchant", alias)
    nested = data.get("merchant")
    inner: dict[str, Any] = nested if isinstance(nested, dict) else data
    return MerchantInfo(
        name=_text(inner.get("name") or inner.get("company_name")),
        email=_text(inner.get("email")),
        webhook_url=_text(inner.get("webhook_url")),
        raw=data,
    )


#: Quote prices are read like the order's price column: 10^20 or 1E+400 is not a price.
_QUOTE_PRICE = values.DecimalParser(14, 4)


def _price(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return _QUOTE_PRICE(value, "price")
    except DocumentError:
        return None


def _currency(entry: dict[str, Any], default: str) -> str:
    """The entry's own ISO 4217 currency when it names one, else the account's."""
    for key in ("currency", "price_currency"):
        if entry.get(key) not in (None, ""):
            try:
                return values.currency(entry[key], key)
            except DocumentError:
                return ""
    return default


def _courier_quote(entry: dict[str, Any], currency: str) -> CourierQuote:
    options = []
    listed = entry.get("quotes")
    for item in listed if isinstance(listed, list) else []:
        price = _price(item.get("price")) if isinstance(item, dict) else None
        if price is None:
            continue
        options.append(
            QuoteOption(
                price=price,
                estimated_transit_time=_text(item.get("estimated_transit_time")),
                delivery_date=_text(item.get("delivery_date")),
                delivery_window=_text(item.get("delivery_window")),
                delivery_window_desc=_text(item.get("delivery_window_desc")),
                raw=item,
            )
        )
    # A $0 quote means the courier cannot take the parcel (Shippit's own words).
    usable = [option for option in options if option.price > 0]
    success = entry.get("success") is not False and bool(usable)
    error = _text(entry.get("error"))
    description = _text(entry.get("error_description") or entry.get("message"))
    if not success and not (error or description):
        if entry.get("success") is False:
            description = "The courier declined to quote."
        elif options:
            description = "Quoted $0: not available."
        else:
            description = "No price was quoted."
    return CourierQuote(
        courier_type=_text(entry.get("courier_type")),
        service_level=_text(entry.get("service_level")),
        success=success,
        options=tuple(usable),
        error=error,
        error_description=description,
        currency=_currency(entry, currency),
        raw=entry,
    )
