"""An order being placed: its local row before the POST, and what the answer (or its loss) does.

The row is written before the provider is asked, so that no order exists at
the provider that the shop does not know of; see ``services.place_order``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..bounded import storable
from ..documents import OrderDocument
from ..models import Order
from ..redaction import scrub
from .apply import apply_document
from .lines import normalize_json


def begin_placement(account: str, payload: Mapping[str, Any]) -> Order:
    """The local row of an order about to be sent (placement ``pending``, no reference yet).

    It keeps the shop's references, by which a callback that overtakes the
    provider's answer finds this row (``retailer_reference`` and
    ``retailer_order_number``).
    """
    return Order.objects.create(
        account=account,
        reference=None,
        placement=Order.Placement.PENDING,
        retailer_reference=str(payload.get("retailer_reference") or "")[:255],
        retailer_order_number=str(payload.get("retailer_order_number") or "")[:255],
        receiver_name=str(payload.get("receiver_name") or "")[:255],
        raw=normalize_json(dict(payload)),
    )


def discard_placement(order: Order) -> None:
    """Drop the row of an order that was never sent (the rate limit left no room)."""
    Order.objects.filter(pk=order.pk, placement=Order.Placement.PENDING).delete()


def mark_placement(
    order: Order, placement: str, error: Exception, *, reference: str | None = None
) -> None:
    """Record why placing ``order`` did not go through (``unknown`` or ``rejected``).

    Only a row still ``pending`` is marked: one that a callback has matched to
    the provider's order meanwhile is already ``submitted``. ``reference`` is
    the provider's, when its answer named the order: kept on the row (unless
    another row holds it) and the order made due, so the next refresh mirrors it.
    """
    now = timezone.now()
    values: dict[str, Any] = {
        "placement": placement,
        "last_error": storable(scrub(str(error)))[:2000],
        "updated_at": now,
    }
    with transaction.atomic():
        if Order.objects.filter(pk=order.pk, placement=Order.Placement.PENDING).update(**values):
            order.placement, order.last_error = placement, values["last_error"]
        if reference:
            try:
                with transaction.atomic():
                    Order.objects.filter(pk=order.pk, reference__isnull=True).update(
                        reference=reference, next_refresh_at=now
                    )
            except IntegrityError:
                pass  # a callback's row holds it: that row is the order


def finish_placement(
    local: Order, document: OrderDocument, source: str, observed_at: datetime
) -> Order:
    """Mirror the provider's answer to a placement on the row ``local``; returns the order.

    A callback may have got here first: if it matched ``local`` (by the
    shop's reference) the row already has the provider's reference; if it
    made a row of its own, that row is kept (it may have newer data) and
    ``local`` is dropped. One transaction: on failure ``local`` is unchanged.
    """
    account = local.account
    if document.as_of is None:
        document = document.fetched(observed_at)
    with transaction.atomic():
        row: Order | None = Order.objects.select_for_update().get(pk=local.pk)
        assert row is not None
        holder = _holder(account, document.reference, row)
        if holder is None and row.reference is None:
            row.reference = document.reference
            try:
                with transaction.atomic():
                    row.save(update_fields=["reference", "updated_at"])
            except IntegrityError:  # a callback's row was committed meanwhile
                row.reference = None
                holder = _holder(account, document.reference, row)
        if holder is not None:
            if row.reference is None:
                row.delete()
            row = holder
        elif row.reference != document.reference:
            row = None  # matched to another order of the same retailer reference
        result = apply_document(account, document, source, order=row)
        Order.objects.filter(pk=result.order.pk).update(placement=Order.Placement.SUBMITTED)
    return Order.objects.get(pk=result.order.pk)


def _holder(account: str, reference: str, row: Order) -> Order | None:
    """Another row already holding ``reference``, locked."""
    return (
        Order.objects.select_for_update()
        .filter(account=account, reference=reference)
        .exclude(pk=row.pk)
        .first()
    )
