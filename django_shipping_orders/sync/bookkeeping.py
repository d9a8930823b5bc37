"""The writes of an order that are not mirrored data: refresh bookkeeping, errors, the label."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone

from .. import policy
from ..exceptions import PERMANENT_ERRORS
from ..models import Manifest, Order
from ..redaction import scrub
from ..utils import column_name


def record_refresh_failure(order: Order, error: Exception, *, keep_schedule: bool = False) -> None:
    """Note a failed refresh on the order and push its next refresh back.

    404 and 403 will not fix themselves by retrying soon: they wait the
    longest error delay, so that they are neither lost nor polled in a loop.
    ``keep_schedule`` (a spare poll, on top of the schedule): the failure never
    brings the order's next poll forward, it can only push it back.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        planned = locked.next_refresh_at
        locked.refresh_failures += 1
        # Scrubbed before it is cut, so that no part of a secret survives the cut.
        locked.last_error = scrub(f"{timezone.localtime(now):%Y-%m-%d %H:%M:%S} {error}")[:2000]
        settings = policy.current_policy()
        if isinstance(error, PERMANENT_ERRORS):
            locked.next_refresh_at = now + timedelta(seconds=settings.ERROR_MAX)
        else:
            locked.next_refresh_at = policy.next_retry_after_error(locked, now=now, policy=settings)
        if keep_schedule and planned is not None and planned > locked.next_refresh_at:
            locked.next_refresh_at = planned
        locked.save(
            update_fields=["refresh_failures", "last_error", "next_refresh_at", "updated_at"]
        )
    order.refresh_failures, order.last_error = locked.refresh_failures, locked.last_error
    order.next_refresh_at = locked.next_refresh_at


def record_unchanged_fetches(
    rows: list[tuple[Order, datetime | None, datetime]], now: datetime
) -> None:
    """The bookkeeping of fetches that found nothing new: ``(order, next poll, as-of)`` per row.

    Writes what ``apply_document`` writes for a duplicate (last sync, next
    poll, failures and error cleared, and the clocks moved forward to the
    fetch's as-of: the provider confirmed what is stored, so no older
    document may undo it) and gives each lease back if it is still the one
    the run took. One raw statement sent with ``executemany``: the next poll
    differs per order (pickup times), and an ORM ``CASE`` over many ids costs
    more to build than the requests it records (bench/refresh.py). Guarded by
    ``updated_at``: a row changed since it was claimed is left alone.
    """
    if not rows:
        return
    meta = Order._meta
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        return quote(column_name(Order, name))

    def forward(name: str) -> str:
        return (
            f"{column(name)} = CASE WHEN {column(name)} IS NULL OR {column(name)} < %s "
            f"THEN %s ELSE {column(name)} END"
        )

    # Only quoted names of the model's own table and columns are spliced in; values are parameters.
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {column('last_synced_at')} = %s, "  # noqa: S608
        f"{column('next_refresh_at')} = %s, {column('refresh_failures')} = 0, "
        f"{column('last_error')} = '', {column('updated_at')} = %s, "
        f"{column('lease_expires_at')} = CASE WHEN {column('lease_expires_at')} = %s "
        f"THEN NULL ELSE {column('lease_expires_at')} END, "
        f"{forward('state_as_of')}, {forward('data_as_of')} "
        f"WHERE {column(meta.pk.name)} = %s AND {column('updated_at')} = %s"
    )
    prepare = meta.get_field("updated_at").get_db_prep_save  # every datetime column alike
    stamp = prepare(now, connection)
    params = []
    for order, next_at, as_of in rows:
        at = prepare(as_of, connection)
        params.append(
            (
                stamp,
                prepare(next_at, connection),
                stamp,
                prepare(order.lease_expires_at, connection),
                at,
                at,
                at,
                at,
                order.pk,
                prepare(order.updated_at, connection),
            )
        )
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def record_error(order: Order, error: Exception) -> None:
    """Keep the provider's answer to a failed call (cancel, book) on the order for staff."""
    order.last_error = scrub(str(error))[:2000]
    Order.objects.filter(pk=order.pk).update(last_error=order.last_error, updated_at=timezone.now())


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


def mark_printed(orders: Sequence[Order], user: AbstractBaseUser | AnonymousUser | None) -> int:
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
