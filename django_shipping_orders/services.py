"""The public Python API: place, cancel, refresh and book orders, find labels, get quotes.

Each function talks to the provider first, with no database lock held, then
hands what the provider said to ``sync.apply_document``. Errors are recorded
on the order (``last_error``) and raised as the typed exceptions of
:mod:`.exceptions`.

The functions a web request calls (place, cancel, refresh) take a ``wait``
budget: the longest they wait for the account's rate limit (its shared budget
and a 429's ``Retry-After`` together), ``SERVICE_WAIT`` seconds by default.
Past it they raise ``RateLimited`` (``RateBudgetExhausted`` when nothing was
sent) with ``retry_after``, instead of holding the request for up to a minute.
Background work passes a longer budget (``wait=None``: as long as it takes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from django.db import DatabaseError
from django.utils import timezone

from . import labels, signals, sync, transient
from .booking import BookingOutcome, book_orders
from .bounded import storable
from .client import DEFAULT_WAIT
from .documents import OrderDocument
from .exceptions import (
    PERMANENT_ERRORS,
    InvalidProviderResponse,
    LabelRefused,
    OrderNotSent,
    OrderStateError,
    ProviderAPIError,
    ProviderTimeout,
    ProviderUnavailable,
    RateBudgetExhausted,
    ShippingOrdersError,
    SubmissionOutcomeUnknown,
    UnexpectedRedirect,
)
from .label_documents import after_label_stored
from .models import Order, Source
from .providers import LabelInfo, get_provider
from .providers.types import CourierQuote, MerchantInfo
from .redaction import get_logger
from .sync import SyncResult, apply_document, normalize_json

logger = get_logger("django_shipping_orders.services")

#: Default ``wait`` of the calls a web request makes: seconds spent waiting for rate limits.
SERVICE_WAIT = DEFAULT_WAIT


def refresh_order(
    order: Order, *, source: str = Source.REFRESH, wait: float | None = SERVICE_WAIT
) -> SyncResult:
    """Fetch ``order`` from its provider and apply it; records and re-raises failures.

    Waits at most ``wait`` seconds for the rate limit (see the module docstring).
    """
    if not order.reference:
        raise OrderStateError(
            f"{order} has no provider reference yet (placement: {order.placement}).",
            account=order.account,
        )
    provider = get_provider(order.account).with_wait(wait)
    started = timezone.now()
    try:
        document = provider.get_order(order.reference)
    except ShippingOrdersError as err:
        sync.record_refresh_failure(order, err)
        raise
    return apply_document(order.account, document, source, observed_at=started)


def place_order(
    account: str, order: OrderDocument | Mapping[str, Any], *, wait: float | None = SERVICE_WAIT
) -> Order:
    """Create an order at the provider and mirror it; returns the local ``Order``.

    Returns the order, or raises a typed error, never a raw database error:

    - ``OrderNotSent``: the local row could not be written; nothing was sent;
    - the provider's refusal (``ProviderValidationError`` …): the row is kept,
      marked ``rejected``;
    - ``SubmissionOutcomeUnknown``: anything that goes wrong once the POST may
      have left (a timeout, an unreadable answer, a database error storing the
      answer): the row is kept, marked ``unknown``, with the provider's
      reference when its answer named one. The POST is never repeated by the
      app (no idempotency key: a blind retry ships twice). A callback about
      the new order finds the row by its ``retailer_reference`` and completes it.

    The local row is written first (placement ``pending``), so that no order
    exists at the provider that the shop does not know of. When the rate limit
    leaves no slot within ``wait`` seconds nothing is sent, the row is dropped
    again and ``RateBudgetExhausted`` is raised: placing again later is safe.
    """
    payload = dict(order.raw) if isinstance(order, OrderDocument) else dict(order)
    provider = get_provider(account).with_wait(wait)
    try:
        local = transient.retrying(lambda: sync.begin_placement(account, payload), model=Order)
    except DatabaseError as err:
        raise OrderNotSent(
            f"Placing an order for account {account!r} failed before it was sent: the local "
            f"row could not be written ({storable(str(err))}). Nothing was sent; try again.",
            account=account,
        ) from err
    started = timezone.now()
    try:
        # Sent as stored: Decimal money goes out as a JSON number, not a TypeError.
        document = provider.place_order(local.raw)
    except RateBudgetExhausted:
        sync.discard_placement(local)
        raise
    except UnexpectedRedirect as err:
        # A 3xx is an answer that the POST was not acted on: refused, not unknown.
        sync.mark_placement(local, Order.Placement.REJECTED, err)
        raise
    except (ProviderTimeout, ProviderUnavailable, InvalidProviderResponse) as err:
        # 5xx, no answer, or a 2xx we cannot read: the provider may have created the order.
        raise _outcome_unknown(local, err) from err
    except ShippingOrdersError as err:
        _mark(local, Order.Placement.REJECTED, err)
        raise
    except Exception as err:  # a fault of ours once the request may have left
        raise _outcome_unknown(local, err) from err
    try:
        # Harder than elsewhere: failing now turns an order the provider has into an unknown.
        return transient.retrying(
            lambda: sync.finish_placement(local, document, Source.PLACE, started),
            model=Order,
            attempts=10,
            max_delay=2.0,
        )
    except Exception as err:  # the provider has the order; storing its answer failed
        raise _outcome_unknown(local, err, reference=document.reference) from err


def _outcome_unknown(
    local: Order, error: Exception, *, reference: str = ""
) -> SubmissionOutcomeUnknown:
    """Mark ``local`` unknown (keeping ``reference``) and build the error to raise."""
    _mark(local, Order.Placement.UNKNOWN, error, reference=reference)
    detail = storable(f"{type(error).__name__}: {error}")
    if reference:
        text = (
            f"Placing {local} created order {reference!r} at the provider, but storing the "
            f"answer failed ({detail}). The row is kept with the reference; a callback or the "
            "next refresh completes it. Do not place it again."
        )
    else:
        text = (
            f"Placing {local} may or may not have created an order at the provider: {detail}. "
            "It will not be re-sent automatically; check with the provider."
        )
    return SubmissionOutcomeUnknown(text, account=local.account, reference=reference)


def _mark(local: Order, placement: str, error: Exception, *, reference: str = "") -> None:
    """``sync.mark_placement``, tried again on transient errors; a failure is only logged.

    The row stays ``pending`` then, which says the same to a person: look it up.
    """
    try:
        transient.retrying(
            lambda: sync.mark_placement(local, placement, error, reference=reference or None),
            model=Order,
        )
    except Exception as mark_error:
        logger.error("Could not mark %s as %s: %s", local, placement, storable(str(mark_error)))


def cancel_order(order: Order, *, wait: float | None = SERVICE_WAIT) -> SyncResult | None:
    """Cancel ``order`` at the provider and mirror the answer.

    Raises ``OrderCannotBeCancelled`` (with the provider's ``order_state``)
    once the parcel is on its way, and ``RateLimited`` when the rate limit
    leaves no room within ``wait`` seconds.
    """
    if not order.reference:
        raise OrderStateError(f"{order} was never accepted by the provider; nothing to cancel.")
    provider = get_provider(order.account).with_wait(wait)
    started = timezone.now()
    try:
        document = provider.cancel_order(order.reference)
    except RateBudgetExhausted:
        raise  # nothing was sent: nothing to record on the order
    except ProviderAPIError as err:
        sync.record_error(order, err)
        raise
    if document is None:
        return refresh_order(order, source=Source.CANCEL, wait=wait)
    return apply_document(order.account, document, Source.CANCEL, observed_at=started)


def get_label(order: Order) -> LabelInfo:
    """Where the provider keeps ``order``'s label (raises ``LabelNotReady`` until allocated)."""
    if not order.reference:
        raise OrderStateError(f"{order} has no provider reference yet.")
    started = timezone.now()
    return replace(get_provider(order.account).get_label(order.reference), fetched_at=started)


def download_label(order_id: int, *, force: bool = False) -> Order:
    """Download order ``order_id``'s label PDF into ``Order.label``; returns the order.

    Does nothing when a label is already stored (unless ``force``). Raises
    ``LabelError`` for a refused URL, a file that is too large or not a PDF,
    and the provider's errors (``LabelNotReady`` …) when asking it for the URL.
    """
    order = Order.objects.get(pk=order_id)
    if order.label and not force:
        return order
    provider = get_provider(order.account)
    url = order.label_url
    info = None
    if not url:
        try:
            info = get_label(order)
            url = info.url
        except NotImplementedError:
            raise LabelRefused(
                f"{order}: the provider sent no label URL and has no label endpoint.",
                account=order.account,
                reference=order.reference or "",
            ) from None
    data = labels.fetch_pdf(provider, url, order)
    sync.store_label(order, data)
    logger.info("Stored the label of %s (%d bytes)", order, len(data))
    signals.label_stored.send(sender=Order, order=order)
    after_label_stored(order, provider, info)  # the label answer's order and documents
    return order


# -- quotes and the merchant account -------------------------------------------------------

#: Destination keys of a quote, as given -> as sent (Shippit's ``dropoff_*`` names also work).
_DESTINATION_KEYS = ("suburb", "postcode", "state", "country_code", "address")


def get_quotes(
    account: str,
    destination: Mapping[str, Any],
    parcels: Sequence[Mapping[str, Any]],
    *,
    products: Sequence[Mapping[str, Any]] | None = None,
    order_date: date | str | None = None,
    service_levels: Sequence[str] | None = None,
    return_all_quotes: bool = False,
    **extra: Any,
) -> list[CourierQuote]:
    """Delivery options and prices for sending ``parcels`` to ``destination`` (``POST /quotes``).

    ``destination`` has ``suburb``, ``postcode`` and, in Australia, ``state``
    (optionally ``country_code``, ``address``); each parcel at least ``qty``
    and ``weight`` (kg), and ``length``, ``width``, ``depth`` (m) when known.
    Returns one :class:`~.providers.types.CourierQuote` per courier and
    service level: ``success`` with priced ``options`` (``Decimal``), or the
    courier's error. Raises ``ValueError`` for a request that cannot be sent,
    and the provider's errors (403, 400 ...) as typed exceptions.
    """
    quote: dict[str, Any] = {}
    for key in _DESTINATION_KEYS:
        value = destination.get(key, destination.get(f"dropoff_{key}"))
        if value not in (None, ""):
            quote[f"dropoff_{key}"] = str(value)
    missing = [k for k in ("dropoff_suburb", "dropoff_postcode") if k not in quote]
    if missing:
        raise ValueError(f"A quote needs the destination's {' and '.join(missing)}.")
    if not parcels:
        raise ValueError("A quote needs at least one parcel.")
    for index, parcel in enumerate(parcels):
        if parcel.get("qty") in (None, "") or parcel.get("weight") in (None, ""):
            raise ValueError(f"Parcel {index + 1} needs qty and weight.")
    quote["parcel_attributes"] = normalize_json([dict(p) for p in parcels])
    if products:
        quote["product_attributes"] = normalize_json([dict(p) for p in products])
    if order_date:
        quote["order_date"] = str(order_date)
    if service_levels:
        quote["service_levels"] = list(service_levels)
    if return_all_quotes:
        quote["return_all_quotes"] = True
    quote.update(normalize_json(extra))
    return list(get_provider(account).get_quotes(quote))


def check_account(account: str) -> MerchantInfo:
    """Who the account's API key belongs to (``GET /merchant``); raises if the key is refused."""
    return get_provider(account).get_merchant()


def register_webhook_url(account: str, url: str) -> MerchantInfo:
    """Tell the provider to send the account's webhooks to ``url`` (``PUT /merchant``)."""
    return get_provider(account).set_webhook_url(url)


__all__ = [
    # Moved to exceptions; still importable from here, where it used to live.
    "PERMANENT_ERRORS",
    "BookingOutcome",
    "book_orders",
    "cancel_order",
    "check_account",
    "download_label",
    "get_label",
    "get_quotes",
    "place_order",
    "refresh_order",
    "register_webhook_url",
]
