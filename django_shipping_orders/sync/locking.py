"""Finding and locking the order row a document is about (and, for a callback, its duplicate).

By the provider's reference on the unique key (``account``, ``reference``),
in a statement built once per database (:mod:`..statements`) with no ORDER
BY: on a freshly loaded table an ORDER BY led the planner to walk the
``created_at`` index instead of the unique key. An order being placed that
has no reference yet is found by the shop's own reference instead.
"""

from __future__ import annotations

from django.db import IntegrityError, connections, transaction
from django.db.models import Q, QuerySet, Subquery

from .. import statements
from ..documents import OrderDocument
from ..models import CallbackReceipt, Order
from ..redaction import get_logger
from ..statements import Param
from .held import HeldWrites

logger = get_logger("django_shipping_orders.sync")

#: Placements whose row may still be waiting for the provider's reference.
AWAITING_REFERENCE = (Order.Placement.PENDING, Order.Placement.UNKNOWN)


def lock_order(
    account: str,
    document: OrderDocument,
    order: Order | None,
    duplicate: CallbackReceipt | None,
    using: str,
) -> tuple[Order | None, int | None]:
    """The order row, locked (``None`` when the order is new to us), and a duplicate receipt.

    The duplicate (a processed receipt with ``duplicate``'s body) is looked
    for in the statement that locks the order; for an order new to us, on its own.
    """
    if order is not None and order.pk:
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if not locked.reference:
            locked.reference = document.reference
            locked.save(update_fields=["reference", "updated_at"])
        return locked, None
    values: dict[str, str | int] = {"account": account, "reference": document.reference}
    if duplicate is not None and not _snapshot_per_statement(using):
        values |= {"dedupe_key": duplicate.dedupe_key, "receipt": duplicate.pk or 0}
        found = statements.select_first("order-lock-duplicate", _lock_with_duplicate, values, using)
    else:
        found = statements.select_first("order-lock", _lock_query, values, using)
    if found is not None:
        locked, extra = found
        if duplicate is not None and "duplicate_of" not in extra:
            # PostgreSQL: a statement that waited for the lock still reads with the
            # snapshot taken before it waited, blind to the receipt the lock holder just
            # committed as processed. A statement of its own, after the lock, sees it.
            return locked, _processed_duplicate(duplicate, using)
        return locked, extra.get("duplicate_of")
    if duplicate is not None:
        earlier = _processed_duplicate(duplicate, using)
        if earlier is not None:
            return None, earlier
    return attach_to_placement(account, document, using), None


def _processed_duplicate(receipt: CallbackReceipt, using: str) -> int | None:
    """The first processed receipt with ``receipt``'s body, in a statement of its own; or None."""
    values: dict[str, str | int] = {"account": receipt.account, "dedupe_key": receipt.dedupe_key}
    values["receipt"] = receipt.pk or 0
    earlier = statements.select_first("receipt-duplicate", _duplicate_query, values, using)
    return earlier[0].pk if earlier is not None else None


def _snapshot_per_statement(using: str) -> bool:
    """PostgreSQL: a statement's subqueries read the snapshot taken before it waited for a lock.

    MariaDB (READ COMMITTED) and SQLite (one writer at a time) read what was
    committed before the lock was granted, so there the lock statement can
    also find the duplicate.
    """
    return bool(connections[using].vendor == "postgresql")


class HeldOrders(dict[tuple[str, str], Order]):
    """Order rows a caller has locked in its transaction, by (account, reference).

    ``placements`` is False when the caller made sure that no order being
    placed (no reference yet) is waiting: then no document needs looking for one.
    """

    placements: bool = True
    #: The caller's writes held until its chunk ends (``held.py``), or None: written at once.
    writes: HeldWrites | None = None


_ACCOUNT = Param("account", "\x00account")
_REFERENCE = Param("reference", "\x00reference")
_DEDUPE_KEY = Param("dedupe_key", "\x00dedupe-key")
_RECEIPT = Param("receipt", -987_654_321)


_KEY = Param("key", "\x00key")
_OTHER_KEY = Param("other_key", "\x00other-key")


def _placement_query() -> tuple[QuerySet[Order], list[Param]]:
    """The oldest order being placed, no reference yet, with one of the shop's two references."""
    keys = [_KEY.stand_in, _OTHER_KEY.stand_in]
    queryset = (
        Order.objects.select_for_update()
        .filter(account=_ACCOUNT.stand_in, reference__isnull=True)
        .filter(placement__in=AWAITING_REFERENCE)
        .filter(Q(retailer_reference__in=keys) | Q(retailer_order_number__in=keys))
        .order_by("pk")
    )
    return queryset[:1], [_ACCOUNT, _KEY, _OTHER_KEY]


def _lock_query() -> tuple[QuerySet[Order], list[Param]]:
    """The order by its unique key, locked: no ORDER BY, which led planners off that key."""
    queryset = Order.objects.select_for_update().filter(
        account=_ACCOUNT.stand_in, reference=_REFERENCE.stand_in
    )
    return queryset.order_by()[:1], [_ACCOUNT, _REFERENCE]


def _lock_with_duplicate() -> tuple[QuerySet[Order], list[Param]]:
    """:func:`_lock_query` with the first processed receipt of the same body beside the row."""
    earlier = _duplicates(_ACCOUNT.stand_in, _DEDUPE_KEY.stand_in, _RECEIPT.stand_in)
    queryset = (
        Order.objects.select_for_update()
        .filter(account=_ACCOUNT.stand_in, reference=_REFERENCE.stand_in)
        .annotate(duplicate_of=Subquery(earlier.values("pk")[:1]))
    )
    return queryset.order_by()[:1], [_ACCOUNT, _REFERENCE, _DEDUPE_KEY, _RECEIPT]


def _duplicates(account: str, dedupe_key: str, receipt: int) -> QuerySet[CallbackReceipt]:
    """Processed receipts of ``account`` with ``dedupe_key`` but ``receipt``, oldest first."""
    return (
        CallbackReceipt.objects.filter(
            account=account, dedupe_key=dedupe_key, status=CallbackReceipt.Status.PROCESSED
        )
        .exclude(pk=receipt)
        .order_by("pk")
    )


def _duplicate_query() -> tuple[QuerySet[CallbackReceipt], list[Param]]:
    """The first processed receipt with a body's dedupe key, alone (the order is new to us)."""
    earlier = _duplicates(_ACCOUNT.stand_in, _DEDUPE_KEY.stand_in, _RECEIPT.stand_in)
    return earlier.only("pk")[:1], [_ACCOUNT, _DEDUPE_KEY, _RECEIPT]


def attach_to_placement(account: str, document: OrderDocument, using: str) -> Order | None:
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
    ordered = sorted(keys)  # one or two: the statement always takes two
    first, second = ordered[0], ordered[-1]
    values = {"account": account, "key": first, "other_key": second}
    found = statements.select_first("order-placement", _placement_query, values, using)
    if found is None:
        return None
    row = found[0]
    row.reference = document.reference
    try:
        with transaction.atomic():  # a savepoint: losing the race leaves the outer one usable
            row.save(update_fields=["reference", "updated_at"])
    except IntegrityError:
        return None  # another delivery stored this reference on its own row first
    logger.info("Matched %s to the order being placed by its retailer reference", row)
    return row
