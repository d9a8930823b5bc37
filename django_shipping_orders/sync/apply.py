"""``apply_document``: a provider's document about an order, made the mirror's truth if newer.

See the package docstring for the rules and :mod:`..clock` for what "newer"
means. One short transaction per document, the order row locked. The
statements every callback runs (lock, insert, update, the state event) are
built once per database (:mod:`..statements`): compiling them cost more than
running them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import router, transaction
from django.utils import timezone

from .. import clock, policy, schedules, signals, statements
from ..conf import shipping_settings
from ..documents import LineDocument, OrderDocument
from ..models import CallbackReceipt, Order, OrderEvent, Parcel, Product
from ..redaction import get_logger, scrub
from ..shipped import ShippedLine, record_shipped
from .held import HeldWrites
from .lines import fit, lines_digest, merge_raw, normalize_json, sync_lines
from .locking import AWAITING_REFERENCE, HeldOrders, attach_to_placement, lock_order

logger = get_logger("django_shipping_orders.sync")

#: Bookkeeping fields, written on every apply that is not stale.
_BOOKKEEPING = ("last_synced_at", "next_refresh_at", "refresh_failures", "last_error", "updated_at")


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
    #: The processed receipt of the same body, when asked to look (nothing was applied).
    duplicate_of: int | None = None

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
    savepoint: bool = True,
    find_duplicate: bool = False,
    held: HeldOrders | None = None,
) -> SyncResult:
    """Apply ``document`` to the mirror of account ``account``; see the module docstring.

    The document's as-of (``document.as_of``) dates it; a document without
    one is taken as fetched at ``observed_at`` (the request time of a poll),
    or now. ``order`` names the row when the caller knows it (an order being
    placed has no reference yet).

    ``savepoint=False`` is for a caller whose own transaction is undone as a
    whole on any error (callback processing): a savepoint would protect
    nothing and cost two statements. ``find_duplicate`` looks, in the same
    statement that locks the order, for a processed receipt with the same
    body as ``receipt``; if there is one nothing is applied and
    ``SyncResult.duplicate_of`` names it.

    ``held``: the rows the caller has already locked in its transaction, by
    (account, reference), every one the caller's documents may be about (the
    deferred drain locks a chunk's orders in one statement); an order not in
    it is new, and the one created is added.
    """
    now = timezone.now()
    if document.as_of is None:
        document = document.fetched(observed_at or now)
    using = router.db_for_write(Order)
    with transaction.atomic(using=using, savepoint=savepoint):
        duplicate = receipt if find_duplicate and receipt and receipt.dedupe_key else None
        if held is not None and order is None:
            locked, duplicate_of = held.get((account, document.reference)), None
            if locked is None and held.placements:
                locked = attach_to_placement(account, document, using)
                if locked is not None:  # the chunk's next document about it finds it here
                    held[account, document.reference] = locked
        else:
            locked, duplicate_of = lock_order(account, document, order, duplicate, using)
        if duplicate_of is not None:
            return SyncResult(order=locked or Order(account=account), duplicate_of=duplicate_of)
        writes = held.writes if held is not None else None
        if locked is None:
            created = _create(account, document, source, now, receipt, using, writes)
            if created is not None:
                _after_commit(created, source, "")
                if held is not None:
                    held[account, document.reference] = created.order
                return created
            # A concurrent delivery inserted the order first: update that row instead,
            # unless that delivery was this very body (committed before the INSERT failed).
            locked, duplicate_of = lock_order(account, document, None, duplicate, using)
            assert locked is not None
            if duplicate_of is not None:
                return SyncResult(order=locked, duplicate_of=duplicate_of)
            if held is not None:
                held[account, document.reference] = locked
        return _update(locked, document, source, now, receipt, using, writes)


def _update(
    locked: Order,
    document: OrderDocument,
    source: str,
    now: datetime,
    receipt: CallbackReceipt | None,
    using: str,
    writes: HeldWrites | None = None,
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
            result.parcels_changed = sync_lines(
                locked, Parcel, document.parcels, created=False, writes=writes
            )
        if document.products is not None:
            result.products_changed = sync_lines(
                locked, Product, document.products, created=False, writes=writes
            )
        if document.shipped_products is not None and _record_shipped(
            locked, document.shipped_products, result, writes
        ):
            result.products_changed = True
            # The rows are no longer what the last document's lines made: read them next time.
            locked.products_digest = ""
        locked.data_as_of = max(as_of, locked.data_as_of or as_of)
        clocks += ["data_as_of", "parcels_digest", "products_digest"]
    if locked.reference and locked.placement in AWAITING_REFERENCE:
        # The provider speaks of this order: it was placed, whatever our POST heard.
        locked.placement = Order.Placement.SUBMITTED
        clocks.append("placement")
    if "state" in result.changed_fields:
        result.state_changed = True
        _record_event(locked, from_state, document, source, as_of, receipt, using, writes)
    _set_bookkeeping(locked, source, now)
    names = sorted({*result.changed_fields, *clocks, *_BOOKKEEPING})
    if writes is not None:
        writes.order(locked, names)
    else:
        statements.update(locked, names, using=using)
    _after_commit(result, source, from_state)
    return result


def _create(
    account: str,
    document: OrderDocument,
    source: str,
    now: datetime,
    receipt: CallbackReceipt | None,
    using: str,
    writes: HeldWrites | None = None,
) -> SyncResult | None:
    """Insert a new order with everything the document says, in one INSERT.

    Returns ``None`` when a concurrent delivery inserted the same order first.
    With ``writes`` (a drain chunk) the INSERT is held with the chunk's others
    and unguarded: losing that race raises, and the chunk is undone and applied
    one receipt at a time.
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
    if document.parcels is not None:
        new.parcels_digest = lines_digest(document.parcels)
    if document.products is not None:
        new.products_digest = lines_digest(document.products)
    _set_bookkeeping(new, source, now)
    if writes is not None:
        # A drain chunk: inserted with the chunk's others (its id is set then). Losing the
        # race to a concurrent delivery fails the chunk, applied then one receipt at a time.
        writes.new_order(new)
    # When a concurrent delivery wins the race, the transaction must stay usable to update
    # the winner's row: the INSERT does nothing on PostgreSQL and SQLite, and runs in a
    # savepoint elsewhere (an error inside an atomic block dooms the whole transaction).
    elif not statements.insert(new, using=using, unless=("account", "reference")):
        return None
    if document.parcels:
        result.parcels_changed = sync_lines(
            new, Parcel, document.parcels, created=True, writes=writes
        )
    if document.products:
        result.products_changed = sync_lines(
            new, Product, document.products, created=True, writes=writes
        )
    if document.shipped_products and _record_shipped(
        new, document.shipped_products, result, writes
    ):
        result.products_changed = True
        # In memory too: a later document in the same chunk writes the digest back.
        new.products_digest = ""
        Order.objects.filter(pk=new.pk).update(products_digest="")
    if new.state:
        result.state_changed = True
        _record_event(new, "", document, source, as_of, receipt, using, writes)
    return result


def _record_shipped(
    order: Order, lines: Sequence[LineDocument], result: SyncResult, writes: HeldWrites | None
) -> bool:
    """``record_shipped``, which reads the order's products: the held ones are written first."""
    if writes is not None:
        writes.lines_read()
    return record_shipped(order, lines, result)


def _record_event(
    order: Order,
    from_state: str,
    document: OrderDocument,
    source: str,
    as_of: datetime,
    receipt: CallbackReceipt | None,
    using: str,
    writes: HeldWrites | None = None,
) -> None:
    event = OrderEvent(
        order=order,
        from_state=from_state,
        to_state=order.state,
        source=source,
        occurred_at=document.state_time() or as_of,
        receipt=receipt,
    )
    if writes is not None:
        writes.event(event)
    else:
        statements.insert(event, using=using)


def _set_bookkeeping(order: Order, source: str, now: datetime) -> None:
    order.last_synced_at = now
    order.refresh_failures = 0
    order.last_error = ""
    order.next_refresh_at = policy.next_refresh_at(order, now=now, source=source)


def _after_commit(result: SyncResult, source: str, from_state: str) -> None:
    order = result.order
    # Robust: the writes are committed, so a shop's receiver that raises is logged and must
    # not undo them in the caller's eyes (a drain would apply its committed chunk again).
    transaction.on_commit(lambda: _send_signals(result, source, from_state), robust=True)
    if not order.label and {"label_url", "courier_job_id"} & {*result.changed_fields}:
        # Downloaded by a task after commit: no HTTP call while the row is locked.
        transaction.on_commit(lambda: _queue_label(order.pk))


def _queue_label(order_id: int) -> None:
    """Queue the label download; a broker that refuses it is logged, and the next refresh
    queues it again (``schedules.label_retry_wanted``): the committed writes stand."""
    try:
        schedules.enqueue_label_download(order_id)
    except Exception as err:
        logger.warning(
            "Could not queue the label download of order %s (%s: %s); the next refresh will",
            order_id,
            type(err).__name__,
            scrub(str(err)),
        )


def fitted_fields(
    document: OrderDocument, only: Collection[str] | None = None
) -> Iterator[tuple[str, Any]]:
    """The order columns ``document`` sets but the state, each value as its column stores it.

    Some are read from another key than their own (``courier`` from
    ``courier_allocation`` or ``courier_name``): what decides whether a
    document changes an order is these values, not only its keys.
    ``only``: those columns alone (the others are not made to fit).
    """
    for name, value in document.fields.items():
        if name == "state" or (only is not None and name not in only):
            continue  # the state has a clock of its own
        if isinstance(value, dict | list):
            value = normalize_json(value)  # compare JSON fields as they read back
        yield name, fit(Order, name, value)


def _apply_fields(order: Order, document: OrderDocument) -> list[str]:
    """Copy the document's values but the state onto ``order``; returns the fields changed."""
    changed = []
    for name, value in fitted_fields(document):
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
