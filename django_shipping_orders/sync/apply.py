"""``apply_document``: a provider's document about an order, made the mirror's truth if newer.

See the package docstring for the rules and :mod:`..clock` for what "newer"
means. One short transaction per document, the order row locked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .. import clock, policy, schedules, signals
from ..conf import shipping_settings
from ..documents import OrderDocument
from ..models import CallbackReceipt, Order, OrderEvent, Parcel, Product
from ..redaction import get_logger
from ..shipped import ShippedLine, record_shipped
from .lines import fit, merge_raw, normalize_json, sync_lines

logger = get_logger("django_shipping_orders.sync")

#: Bookkeeping fields, written on every apply that is not stale.
_BOOKKEEPING = ("last_synced_at", "next_refresh_at", "refresh_failures", "last_error", "updated_at")

#: Placements whose row may still be waiting for the provider's reference.
AWAITING_REFERENCE = (Order.Placement.PENDING, Order.Placement.UNKNOWN)


@dataclass
class SyncResult:
    """What ``apply_document`` did."""

    order: Order
    created: bool = False
    changed_fields: list[str] = field(default_factory=list)
    stale: bool = False
    state_changed: bool = False
    parcels_changed: bool = False
    products_changed: bool = False
    stale_reason: str = ""
    #: What a webhook's ``products`` said shipped, line by line (see ``shipped.py``).
    shipped_products: list[ShippedLine] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when any mirrored data changed (or the order was created)."""
        return bool(
            self.created or self.changed_fields or self.parcels_changed or self.products_changed
        )


def apply_document(
    account: str,
    document: OrderDocument,
    source: str,
    *,
    observed_at: datetime | None = None,
    receipt: CallbackReceipt | None = None,
    order: Order | None = None,
) -> SyncResult:
    """Apply ``document`` to the mirror of account ``account``; see the module docstring.

    The document's as-of (``document.as_of``) dates it; a document without
    one is taken as fetched at ``observed_at`` (the request time of a poll),
    or now. ``order`` names the row when the caller knows it (an order being
    placed has no reference yet).
    """
    now = timezone.now()
    if document.as_of is None:
        document = document.fetched(observed_at or now)
    with transaction.atomic():
        locked = _lock_existing(account, document, order)
        if locked is None:
            created = _create(account, document, source, now, receipt)
            if created is not None:
                _after_commit(created, source, "")
                return created
            # A concurrent delivery inserted the order first: update that row instead.
            locked = _lock_existing(account, document, None)
            assert locked is not None
        return _update(locked, document, source, now, receipt)


def _update(
    locked: Order,
    document: OrderDocument,
    source: str,
    now: datetime,
    receipt: CallbackReceipt | None,
) -> SyncResult:
    as_of = document.as_of
    assert as_of is not None
    window = shipping_settings.clock_window
    from_state = locked.state
    result = SyncResult(order=locked)
    state = (
        clock.judge(locked.state, locked.state_as_of, document.state, as_of, window)
        if document.state
        else None
    )
    details = clock.judge(locked.state, locked.data_as_of, document.state, as_of, window)
    if not details and not state:
        result.stale = True
        result.stale_reason = (state or details).reason
        logger.info("Ignored stale %s data for %s: %s", source, locked, result.stale_reason)
        return result
    clocks = []
    if state:
        if document.state != locked.state:
            locked.state = document.state
            locked.state_changed_at = document.state_time() or as_of
            result.changed_fields.append("state")
            clocks.append("state_changed_at")
        locked.state_as_of = max(as_of, locked.state_as_of or as_of)
        clocks.append("state_as_of")
    elif state is not None:
        result.stale_reason = state.reason  # the details may still be newer
    if details:
        result.changed_fields += _apply_fields(locked, document)
        if document.parcels is not None:
            result.parcels_changed = sync_lines(locked, Parcel, document.parcels, created=False)
        if document.products is not None:
            result.products_changed = sync_lines(locked, Product, document.products, created=False)
        if document.shipped_products is not None:
            result.products_changed |= record_shipped(locked, document.shipped_products, result)
        locked.data_as_of = max(as_of, locked.data_as_of or as_of)
        clocks.append("data_as_of")
    if locked.reference and locked.placement in AWAITING_REFERENCE:
        # The provider speaks of this order: it was placed, whatever our POST heard.
        locked.placement = Order.Placement.SUBMITTED
        clocks.append("placement")
    if "state" in result.changed_fields:
        result.state_changed = True
        _record_event(locked, from_state, document, source, as_of, receipt)
    _set_bookkeeping(locked, source, now)
    locked.save(update_fields=sorted({*result.changed_fields, *clocks, *_BOOKKEEPING}))
    _after_commit(result, source, from_state)
    return result


def _lock_existing(account: str, document: OrderDocument, order: Order | None) -> Order | None:
    """The order row, locked, or ``None`` when the provider's order is new to us."""
    queryset = Order.objects.select_for_update()
    if order is not None and order.pk:
        locked = queryset.get(pk=order.pk)
        if not locked.reference:
            locked.reference = document.reference
            locked.save(update_fields=["reference", "updated_at"])
        return locked
    found = queryset.filter(account=account, reference=document.reference).first()
    return found if found is not None else _attach_to_placement(account, document)


def _attach_to_placement(account: str, document: OrderDocument) -> Order | None:
    """The row of an order being placed that ``document`` is about, given its reference; or None.

    A provider may call back before it answers the POST that created the
    order (and an answer may be lost). Such a row has no reference yet; the
    shop's own reference, which the provider echoes, finds it, so the order
    keeps one row. The oldest row wins when the shop placed the same
    reference twice.
    """
    keys = {
        str(value)
        for value in (
            document.fields.get("retailer_reference"),
            document.fields.get("retailer_order_number"),
        )
        if value
    }
    if not keys:
        return None
    row = (
        Order.objects.select_for_update()
        .filter(account=account, reference__isnull=True, placement__in=AWAITING_REFERENCE)
        .filter(Q(retailer_reference__in=keys) | Q(retailer_order_number__in=keys))
        .order_by("pk")
        .first()
    )
    if row is None:
        return None
    row.reference = document.reference
    try:
        with transaction.atomic():  # a savepoint: losing the race leaves the outer one usable
            row.save(update_fields=["reference", "updated_at"])
    except IntegrityError:
        return None  # another delivery stored this reference on its own row first
    logger.info("Matched %s to the order being placed by its retailer reference", row)
    return row


def _create(
    account: str,
    document: OrderDocument,
    source: str,
    now: datetime,
    receipt: CallbackReceipt | None,
) -> SyncResult | None:
    """Insert a new order with everything the document says, in one INSERT.

    Returns ``None`` when a concurrent delivery inserted the same order first.
    """
    as_of = document.as_of
    assert as_of is not None
    new = Order(account=account, reference=document.reference, data_as_of=as_of)
    result = SyncResult(order=new, created=True)
    result.changed_fields = _apply_fields(new, document)
    if document.state:
        new.state = document.state
        new.state_as_of = as_of
        new.state_changed_at = document.state_time() or as_of
    _set_bookkeeping(new, source, now)
    try:
        # A savepoint, so that losing the race leaves the outer transaction usable.
        with transaction.atomic():
            new.save(force_insert=True)
    except IntegrityError:
        return None
    if document.parcels:
        result.parcels_changed = sync_lines(new, Parcel, document.parcels, created=True)
    if document.products:
        result.products_changed = sync_lines(new, Product, document.products, created=True)
    if document.shipped_products:
        result.products_changed |= record_shipped(new, document.shipped_products, result)
    if new.state:
        result.state_changed = True
        _record_event(new, "", document, source, as_of, receipt)
    return result


def _record_event(
    order: Order,
    from_state: str,
    document: OrderDocument,
    source: str,
    as_of: datetime,
    receipt: CallbackReceipt | None,
) -> None:
    OrderEvent.objects.create(
        order=order,
        from_state=from_state,
        to_state=order.state,
        source=source,
        occurred_at=document.state_time() or as_of,
        receipt=receipt,
    )


def _set_bookkeeping(order: Order, source: str, now: datetime) -> None:
    order.last_synced_at = now
    order.refresh_failures = 0
    order.last_error = ""
    order.next_refresh_at = policy.next_refresh_at(order, now=now, source=source)


def _after_commit(result: SyncResult, source: str, from_state: str) -> None:
    order = result.order
    transaction.on_commit(lambda: _send_signals(result, source, from_state))
    if not order.label and {"label_url", "courier_job_id"} & {*result.changed_fields}:
        # Downloaded by a task after commit: no HTTP call while the row is locked.
        transaction.on_commit(lambda: schedules.enqueue_label_download(order.pk))


def _apply_fields(order: Order, document: OrderDocument) -> list[str]:
    """Copy the document's values but the state onto ``order``; returns the fields changed."""
    changed = []
    for name, value in document.fields.items():
        if name == "state":
            continue  # the state has a clock of its own
        if isinstance(value, dict | list):
            value = normalize_json(value)  # compare JSON fields as they read back
        value = fit(Order, name, value)
        if getattr(order, name) != value:
            setattr(order, name, value)
            changed.append(name)
    raw = merge_raw(order.raw, document.raw)
    if order.raw != raw:
        order.raw = raw
        changed.append("raw")
    return changed


def _send_signals(result: SyncResult, source: str, from_state: str) -> None:
    """Tell receivers; a failing receiver is logged and never undoes or fails the sync."""
    order = result.order
    sent = []
    if result.changed:
        sent += signals.order_synced.send_robust(
            sender=Order, order=order, result=result, source=source
        )
    if result.state_changed:
        sent += signals.order_state_changed.send_robust(
            sender=Order, order=order, from_state=from_state, to_state=order.state, source=source
        )
    for receiver, response in sent:
        if isinstance(response, Exception):
            logger.error(
                "Signal receiver %r failed for %s: %s", receiver, order, response, exc_info=response
            )
