"""The public Python API: place, cancel and refresh orders, and find their labels.

Each function talks to the provider first, with no database lock held, then
hands what the provider said to ``sync.apply_document``. Errors are recorded
on the order (``last_error``) and raised as the typed exceptions of
:mod:`.exceptions`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from . import policy
from .documents import OrderDocument
from .exceptions import (
    InvalidMerchantAccount,
    InvalidProviderResponse,
    OrderNotFound,
    OrderStateError,
    ProviderAPIError,
    ProviderTimeout,
    ProviderUnavailable,
    ShippingOrdersError,
    SubmissionOutcomeUnknown,
)
from .models import Order, Source
from .providers import LabelInfo, get_provider
from .sync import SyncResult, apply_document

logger = logging.getLogger("django_shipping_orders.services")

#: Errors after which polling the order again soon is pointless.
PERMANENT_ERRORS = (OrderNotFound, InvalidMerchantAccount)


def refresh_order(order: Order, *, source: str = Source.REFRESH) -> SyncResult:
    """Fetch ``order`` from its provider and apply it; records and re-raises failures."""
    if not order.reference:
        raise OrderStateError(
            f"{order} has no provider reference yet (placement: {order.placement}).",
            account=order.account,
        )
    provider = get_provider(order.account)
    started = timezone.now()
    try:
        document = provider.get_order(order.reference)
    except ShippingOrdersError as err:
        record_refresh_failure(order, err)
        raise
    return apply_document(order.account, document, source, observed_at=started)


def record_refresh_failure(order: Order, error: Exception) -> None:
    """Note a failed refresh on the order and push its next refresh back.

    404 and 403 will not fix themselves by retrying soon: they wait the
    longest error delay, so that they are neither lost nor polled in a loop.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        locked.refresh_failures += 1
        locked.last_error = f"{timezone.localtime(now):%Y-%m-%d %H:%M:%S} {error}"[:2000]
        settings = policy.current_policy()
        if isinstance(error, PERMANENT_ERRORS):
            locked.next_refresh_at = now + timedelta(seconds=settings.ERROR_MAX)
        else:
            locked.next_refresh_at = policy.next_retry_after_error(locked, now=now, policy=settings)
        locked.save(
            update_fields=["refresh_failures", "last_error", "next_refresh_at", "updated_at"]
        )
    order.refresh_failures, order.last_error = locked.refresh_failures, locked.last_error
    order.next_refresh_at = locked.next_refresh_at


def place_order(account: str, order: OrderDocument | Mapping[str, Any]) -> Order:
    """Create an order at the provider and mirror it; returns the local ``Order``.

    The local row is written first (placement ``pending``), so that a timeout
    never leaves an order we do not know about. The POST is never repeated by
    the app: if its outcome is unknown the row is marked ``unknown`` for a
    person to check, and ``SubmissionOutcomeUnknown`` is raised.
    """
    payload = dict(order.raw) if isinstance(order, OrderDocument) else dict(order)
    provider = get_provider(account)
    local = Order.objects.create(
        account=account,
        reference=None,
        placement=Order.Placement.PENDING,
        retailer_reference=str(payload.get("retailer_reference") or "")[:255],
        receiver_name=str(payload.get("receiver_name") or "")[:255],
        raw=_json(payload),
    )
    started = timezone.now()
    try:
        # Sent as stored: Decimal money goes out as a JSON number, not a TypeError.
        document = provider.place_order(local.raw)
    except (ProviderTimeout, ProviderUnavailable, InvalidProviderResponse) as err:
        # 5xx, no answer, or a 2xx we cannot read: the provider may have created the order.
        _mark_placement(local, Order.Placement.UNKNOWN, err)
        raise SubmissionOutcomeUnknown(
            f"Placing {local} may or may not have created an order at the provider: {err}. "
            "It will not be re-sent automatically; check with the provider.",
            account=account,
        ) from err
    except ShippingOrdersError as err:
        _mark_placement(local, Order.Placement.REJECTED, err)
        raise
    if (
        Order.objects.filter(account=account, reference=document.reference)
        .exclude(pk=local.pk)
        .exists()
    ):
        # A callback for the new order beat us here and created its own row:
        # keep that one (it has the newer data) and drop ours.
        local.delete()
        existing = Order.objects.get(account=account, reference=document.reference)
        Order.objects.filter(pk=existing.pk).update(placement=Order.Placement.SUBMITTED)
        return existing
    Order.objects.filter(pk=local.pk).update(placement=Order.Placement.SUBMITTED)
    apply_document(account, document, Source.PLACE, observed_at=started, order=local)
    local.refresh_from_db()
    return local


def _mark_placement(order: Order, placement: str, error: Exception) -> None:
    order.placement = placement
    order.last_error = str(error)[:2000]
    order.save(update_fields=["placement", "last_error", "updated_at"])


def _json(payload: Mapping[str, Any]) -> Any:
    from .sync import normalize_json

    return normalize_json(dict(payload))


def cancel_order(order: Order) -> SyncResult | None:
    """Cancel ``order`` at the provider and mirror the answer.

    Raises ``OrderCannotBeCancelled`` (with the provider's ``order_state``)
    once the parcel is on its way.
    """
    if not order.reference:
        raise OrderStateError(f"{order} was never accepted by the provider; nothing to cancel.")
    provider = get_provider(order.account)
    started = timezone.now()
    try:
        document = provider.cancel_order(order.reference)
    except ProviderAPIError as err:
        Order.objects.filter(pk=order.pk).update(last_error=str(err)[:2000])
        raise
    if document is None:
        return refresh_order(order, source=Source.CANCEL)
    return apply_document(order.account, document, Source.CANCEL, observed_at=started)


def get_label(order: Order) -> LabelInfo:
    """Where the provider keeps ``order``'s label (raises ``LabelNotReady`` until allocated)."""
    if not order.reference:
        raise OrderStateError(f"{order} has no provider reference yet.")
    return get_provider(order.account).get_label(order.reference)
