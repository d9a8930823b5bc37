"""Every write of an ``Order`` row: ``apply_document`` for mirrored data, and the bookkeeping.

Callbacks, refreshes, admin actions and the place/cancel services all end
here, so the rules live in one place:

- the order row is locked (``select_for_update``) for a short transaction, and
  no HTTP call is made while it is held;
- stale data never wins: a document older than what is stored (by the
  provider's time when both have one, else by when it was observed), or one
  that would move the state backwards on the happy path, changes nothing;
- a duplicate changes nothing and creates nothing;
- parcels and products are upserted with the same number of queries whatever
  their count;
- a state change is recorded as an ``OrderEvent``; signals go out after commit.

The other writes of an order live here too, so there is one owner for each
column: refresh bookkeeping (:func:`record_refresh_failure`,
:func:`record_unchanged_fetches`), placement (:func:`begin_placement`,
:func:`mark_placement`, :func:`finish_placement`), provider errors
(:func:`record_error`), the stored label (:func:`store_label`,
:func:`record_label_failure`) and the shop's print record (:func:`mark_printed`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from . import policy, schedules, signals, states
from .documents import LineDocument, OrderDocument
from .exceptions import PERMANENT_ERRORS
from .models import (
    CallbackReceipt,
    Manifest,
    Order,
    OrderEvent,
    Parcel,
    PayloadEncoder,
    Product,
)
from .redaction import get_logger, scrub
from .shipped import ShippedLine, keep_shipped, record_shipped

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

    ``observed_at`` is when the data left the provider (the request time of a
    poll, the arrival of a callback); it defaults to now. ``order`` names the
    row when the caller knows it (an order being placed has no reference yet).
    """
    now = timezone.now()
    observed_at = observed_at or now
    with transaction.atomic():
        locked = _lock_existing(account, document.reference, order)
        if locked is None:
            created = _create(account, document, source, observed_at, now, receipt)
            if created is not None:
                _after_commit(created, source, "")
                return created
            # A concurrent delivery inserted the order first: update that row instead.
            locked = _lock_existing(account, document.reference, None)
            assert locked is not None
        from_state = locked.state
        result = SyncResult(order=locked)
        result.stale_reason = _stale_reason(locked, document, observed_at)
        if result.stale_reason:
            result.stale = True
            logger.info("Ignored stale %s data for %s: %s", source, locked, result.stale_reason)
            return result
        provenance = _apply_fields(locked, document, observed_at, False, result)
        if document.parcels is not None:
            result.parcels_changed = _sync_lines(locked, Parcel, document.parcels, created=False)
        if document.products is not None:
            result.products_changed = _sync_lines(locked, Product, document.products, created=False)
        if document.shipped_products is not None:
            result.products_changed |= record_shipped(locked, document.shipped_products, result)
        if "state" in result.changed_fields:
            result.state_changed = True
            _record_event(locked, from_state, document, source, observed_at, receipt)
        _set_bookkeeping(locked, source, now)
        locked.save(update_fields=sorted({*result.changed_fields, *provenance, *_BOOKKEEPING}))
        _after_commit(result, source, from_state)
    return result


def _lock_existing(account: str, reference: str, order: Order | None) -> Order | None:
    """The order row, locked, or ``None`` when the provider's order is new to us."""
    queryset = Order.objects.select_for_update()
    if order is not None and order.pk:
        locked = queryset.get(pk=order.pk)
        if not locked.reference:
            locked.reference = reference
            locked.save(update_fields=["reference", "updated_at"])
        return locked
    return queryset.filter(account=account, reference=reference).first()


def _create(
    account: str,
    document: OrderDocument,
    source: str,
    observed_at: datetime,
    now: datetime,
    receipt: CallbackReceipt | None,
) -> SyncResult | None:
    """Insert a new order with everything the document says, in one INSERT.

    Returns ``None`` when a concurrent delivery inserted the same order first.
    """
    new = Order(account=account, reference=document.reference)
    result = SyncResult(order=new, created=True)
    _apply_fields(new, document, observed_at, True, result)
    _set_bookkeeping(new, source, now)
    try:
        # A savepoint, so that losing the race leaves the outer transaction usable.
        with transaction.atomic():
            new.save(force_insert=True)
    except IntegrityError:
        return None
    if document.parcels:
        result.parcels_changed = _sync_lines(new, Parcel, document.parcels, created=True)
    if document.products:
        result.products_changed = _sync_lines(new, Product, document.products, created=True)
    if document.shipped_products:
        result.products_changed |= record_shipped(new, document.shipped_products, result)
    if new.state:
        result.state_changed = True
        _record_event(new, "", document, source, observed_at, receipt)
    return result


def _record_event(
    order: Order,
    from_state: str,
    document: OrderDocument,
    source: str,
    observed_at: datetime,
    receipt: CallbackReceipt | None,
) -> None:
    OrderEvent.objects.create(
        order=order,
        from_state=from_state,
        to_state=order.state,
        source=source,
        occurred_at=document.state_time() or observed_at,
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


def _stale_reason(order: Order, document: OrderDocument, observed_at: datetime) -> str:
    """Why ``document`` is older than what ``order`` holds, or "" when it is not."""
    stored_time, new_time = order.remote_updated_at, document.remote_updated_at
    if stored_time and new_time:
        if new_time < stored_time:
            return f"provider time {new_time.isoformat()} is before {stored_time.isoformat()}"
        if new_time > stored_time:
            return ""  # the provider says it is newer: trust it, even a state going back
    elif order.observed_at and observed_at < order.observed_at:
        # Only one side has a provider time: fall back to when each was observed.
        return (
            f"observed at {observed_at.isoformat()}, before the stored data "
            f"({order.observed_at.isoformat()})"
        )
    if document.state:
        old_rank, new_rank = states.state_rank(order.state), states.state_rank(document.state)
        if old_rank is not None and new_rank is not None and new_rank < old_rank:
            return f"state {document.state!r} would go back from {order.state!r}"
    return ""


def _apply_fields(
    order: Order, document: OrderDocument, observed_at: datetime, created: bool, result: SyncResult
) -> list[str]:
    """Copy the document's values onto ``order``; returns the provenance fields to save."""
    changed = []
    for name, value in document.fields.items():
        if isinstance(value, dict | list):
            value = normalize_json(value)  # compare JSON fields as they read back
        value = _fit(Order, name, value)
        if getattr(order, name) != value:
            setattr(order, name, value)
            changed.append(name)
    raw = merge_raw(order.raw, document.raw)
    if order.raw != raw:
        order.raw = raw
        changed.append("raw")
    result.changed_fields = changed
    if not (changed or created):
        return []  # a duplicate: not even provenance moves
    provenance = ["observed_at"]
    order.observed_at = max(observed_at, order.observed_at or observed_at)
    if document.remote_updated_at and (
        not order.remote_updated_at or document.remote_updated_at > order.remote_updated_at
    ):
        order.remote_updated_at = document.remote_updated_at
        provenance.append("remote_updated_at")
    if "state" in changed:
        order.state_changed_at = document.state_time() or observed_at
        provenance.append("state_changed_at")
    return provenance


def _fit(model: type[Order] | type[Parcel] | type[Product], name: str, value: Any) -> Any:
    """Text cut to its column's length: an over-long provider value must not fail the write.

    The full value stays in ``raw``; PostgreSQL and MySQL would otherwise
    refuse the row, and the order would never sync again.
    """
    if isinstance(value, str):
        max_length = model._meta.get_field(name).max_length
        if max_length and len(value) > max_length:
            return value[:max_length]
    return value


def merge_raw(stored: Any, received: Any) -> Any:
    """The stored payload with ``received``'s keys on top: newer keys win, none is dropped.

    Webhooks are partial and the label answer says other things than Get
    Order, so each adds what it knows; pruning callback receipts then loses
    nothing (``merchant_url``, coordinates, a webhook's ``products``).
    """
    merged = dict(stored) if isinstance(stored, dict) else {}
    merged.update(normalize_json(dict(received)))
    return merged


def normalize_json(value: Any) -> Any:
    """``value`` as it reads back from a JSONField (Decimals become JSON numbers)."""
    return json.loads(json.dumps(value, cls=PayloadEncoder))


def _sync_lines(
    order: Order,
    model: type[Parcel] | type[Product],
    lines: Sequence[LineDocument],
    *,
    created: bool,
) -> bool:
    """Make the order's parcels (or products) equal ``lines``; at most three queries."""
    wanted = [
        model(
            order=order,
            position=index,
            raw=normalize_json(line.raw),
            **{name: _fit(model, name, value) for name, value in line.values.items()},
        )
        for index, line in enumerate(lines)
    ]
    if not created:
        manager = model.objects.filter(order=order)
        existing = list(manager.order_by("position"))
        if model is Product:
            # New lines keep what webhooks said shipped, and the items only webhooks listed.
            wanted += keep_shipped(cast(list[Product], existing), cast(list[Product], wanted))
        if [_line_key(row) for row in existing] == [_line_key(row) for row in wanted]:
            return False
        manager.delete()
    elif not wanted:
        return False
    model.objects.bulk_create(wanted, batch_size=500)
    return True


def _line_key(row: Parcel | Product) -> tuple[Any, ...]:
    return tuple(
        getattr(row, f.attname) for f in row._meta.concrete_fields if f.name not in ("id", "order")
    )


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


# -- bookkeeping -------------------------------------------------------------------------


def record_refresh_failure(order: Order, error: Exception) -> None:
    """Note a failed refresh on the order and push its next refresh back.

    404 and 403 will not fix themselves by retrying soon: they wait the
    longest error delay, so that they are neither lost nor polled in a loop.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        locked.refresh_failures += 1
        # Scrubbed before it is cut, so that no part of a secret survives the cut.
        locked.last_error = scrub(f"{timezone.localtime(now):%Y-%m-%d %H:%M:%S} {error}")[:2000]
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


def record_unchanged_fetches(rows: list[tuple[Order, datetime | None]], now: datetime) -> None:
    """The bookkeeping of fetches that found nothing new; ``rows`` pairs each order with its next poll.

    Writes exactly what ``apply_document`` writes for a duplicate (last sync,
    next poll, failures and error cleared) and gives each lease back if it is
    still the one the run took. One raw statement sent with ``executemany``:
    the next poll differs per order (pickup times), and an ORM ``CASE`` over
    many ids costs more to build than the requests it records (bench/refresh.py).
    Guarded by ``updated_at``: a row changed since it was claimed is left alone.
    """
    if not rows:
        return
    meta = Order._meta
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    # Only quoted names of the model's own table and columns are spliced in; values are parameters.
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {column('last_synced_at')} = %s, "  # noqa: S608
        f"{column('next_refresh_at')} = %s, {column('refresh_failures')} = 0, "
        f"{column('last_error')} = '', {column('updated_at')} = %s, "
        f"{column('lease_expires_at')} = CASE WHEN {column('lease_expires_at')} = %s "
        f"THEN NULL ELSE {column('lease_expires_at')} END "
        f"WHERE {quote(meta.pk.column)} = %s AND {column('updated_at')} = %s"
    )
    prepare = meta.get_field("updated_at").get_db_prep_save  # every datetime column alike
    stamp = prepare(now, connection)
    params = [
        (
            stamp,
            prepare(next_at, connection),
            stamp,
            prepare(order.lease_expires_at, connection),
            order.pk,
            prepare(order.updated_at, connection),
        )
        for order, next_at in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def record_error(order: Order, error: Exception) -> None:
    """Keep the provider's answer to a failed call (cancel, book) on the order for staff."""
    order.last_error = scrub(str(error))[:2000]
    Order.objects.filter(pk=order.pk).update(last_error=order.last_error, updated_at=timezone.now())


# -- placement -----------------------------------------------------------------------------


def begin_placement(account: str, payload: Mapping[str, Any]) -> Order:
    """The local row of an order about to be sent (placement ``pending``, no reference yet)."""
    return Order.objects.create(
        account=account,
        reference=None,
        placement=Order.Placement.PENDING,
        retailer_reference=str(payload.get("retailer_reference") or "")[:255],
        receiver_name=str(payload.get("receiver_name") or "")[:255],
        raw=normalize_json(dict(payload)),
    )


def discard_placement(order: Order) -> None:
    """Drop the row of an order that was never sent (the rate limit left no room)."""
    Order.objects.filter(pk=order.pk, placement=Order.Placement.PENDING).delete()


def mark_placement(order: Order, placement: str, error: Exception) -> None:
    """Record why placing ``order`` did not go through (``unknown`` or ``rejected``)."""
    order.placement = placement
    order.last_error = scrub(str(error))[:2000]
    order.save(update_fields=["placement", "last_error", "updated_at"])


def finish_placement(
    local: Order, document: OrderDocument, source: str, observed_at: datetime
) -> Order:
    """Mirror the provider's answer to a placement on the row ``local``; returns the order.

    When a callback for the new order got here first and created its own
    row, that row is kept (it may have newer data) and ``local`` is dropped.
    """
    account = local.account
    if (
        Order.objects.filter(account=account, reference=document.reference)
        .exclude(pk=local.pk)
        .exists()
    ):
        local.delete()
        existing = Order.objects.get(account=account, reference=document.reference)
        Order.objects.filter(pk=existing.pk).update(placement=Order.Placement.SUBMITTED)
        existing.placement = Order.Placement.SUBMITTED
        return existing
    try:
        with transaction.atomic():
            # The reference first, on its own: whatever happens to the rest of the
            # answer, the order the provider now has is never lost.
            Order.objects.filter(pk=local.pk).update(
                placement=Order.Placement.SUBMITTED, reference=document.reference
            )
    except IntegrityError:  # a callback created the row meanwhile: apply_document finds it
        Order.objects.filter(pk=local.pk).update(placement=Order.Placement.SUBMITTED)
    apply_document(account, document, source, observed_at=observed_at, order=local)
    local.refresh_from_db()
    return local


# -- labels --------------------------------------------------------------------------------


def store_label(order: Order, data: bytes) -> None:
    """Save ``data`` as the order's label PDF (private storage) and note when."""
    old_name = order.label.name if order.label else ""
    order.label.save(f"{order.reference or order.pk}.pdf", ContentFile(data), save=False)
    order.label_downloaded_at = timezone.now()
    order.label_error = ""
    # Only the label columns: a concurrent sync may be writing the mirrored ones.
    order.save(update_fields=["label", "label_downloaded_at", "label_error", "updated_at"])
    if old_name and old_name != order.label.name:
        order.label.storage.delete(old_name)


def record_booking(
    booked: Mapping[int, Manifest | None], failed: Mapping[int, str], *, at: datetime
) -> None:
    """Write a pickup booking's outcome on the orders (``booking.book_orders`` calls it).

    Orders the provider confirmed get ``booked_at`` and their manifest, and
    lose an earlier booking error; refused ones keep their ``booked_at`` (a
    previous booking may stand) and get the provider's error.
    """
    by_manifest: dict[int | None, list[int]] = {}
    for pk, manifest in booked.items():
        by_manifest.setdefault(manifest.pk if manifest else None, []).append(pk)
    with transaction.atomic():
        for manifest_id, pks in by_manifest.items():
            Order.objects.filter(pk__in=pks).update(
                booked_at=at, manifest_id=manifest_id, booking_error="", updated_at=at
            )
        for pk, error in failed.items():
            Order.objects.filter(pk=pk).update(booking_error=scrub(error)[:2000], updated_at=at)


# -- writes that are not mirrored data ---------------------------------------------------------


def mark_printed(orders: Sequence[Order], user: Any) -> int:
    """Record that the labels of ``orders`` were printed now by ``user``; returns how many.

    Bookkeeping of our own, not the provider's data: ``updated_at`` is left
    alone, so a refresh in flight that guards on it still records its poll.
    """
    ids = [order.pk for order in orders]
    name = str(user.get_username()) if user is not None and hasattr(user, "get_username") else ""
    now = timezone.now()
    count = Order.objects.filter(pk__in=ids).update(label_printed_at=now, label_printed_by=name)
    for order in orders:
        order.label_printed_at, order.label_printed_by = now, name
    return count


def record_label_failure(order_id: int, error: Exception | str) -> None:
    """Note why the label of order ``order_id`` could not be stored (cleared once one is)."""
    text = scrub(str(error))[:2000]
    Order.objects.filter(pk=order_id, label="").update(label_error=text)
