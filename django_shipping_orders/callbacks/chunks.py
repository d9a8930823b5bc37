"""The deferred drain's fast road: a chunk of receipts applied in one transaction.

Per receipt, the drain used to pay for a transaction of its own, a look for
a duplicate and a lock statement. A chunk pays for each once: one
transaction, one statement for the duplicates of every body, one statement
locking every order the chunk is about (in primary-key order, so that two
lockers never wait on each other in a circle). Each receipt is then applied
and its outcome recorded as :func:`.processing.process_receipt` would, but
the writes are held (``sync.held``) and sent when the chunk has been
applied: each order's UPDATE once, the state events, the parcels, the
products and the receipts' outcomes in one statement each.

Safety: the chunk is all or nothing. If anything in it raises (a body no
database stores, a lock timeout, a bug), the transaction is rolled back and
:func:`process_chunk` says so; the drain then processes those receipts one
at a time, each under its own guard, so a poisoned receipt is still isolated
and recorded on its own. Bodies that cannot be read, receipts of an account
in verify mode (an HTTP call per receipt, never inside a transaction holding
row locks) and of unknown accounts never enter a chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import router, transaction
from django.db.models import Min

from .. import sync
from ..conf import shipping_settings
from ..documents import OrderDocument
from ..models import CallbackReceipt, Order, Source
from ..providers import get_provider
from ..sync.held import HeldWrites
from ..sync.locking import AWAITING_REFERENCE, HeldOrders
from .bodies import examine, examine_keyed
from .processing import ReceiptTaken, duplicate_outcome, finish
from .receipts import dedupe_key

Status = CallbackReceipt.Status

#: Receipts applied per transaction: large enough to share its cost, small enough that
#: the row locks it holds are released within a fraction of a second.
CHUNK_SIZE = 50
#: Body bytes per chunk: a chunk closes at this many, however few its receipts. Ordinary
#: bodies (a few kilobytes) fill ``CHUNK_SIZE`` first; dense ones near the body limit
#: are applied one or two at a time, so a chunk's time and memory stay bounded.
CHUNK_BYTES = 2 * 1024 * 1024


@dataclass
class Ready:
    """A receipt a chunk may take, with the document read from its body."""

    receipt: CallbackReceipt
    document: OrderDocument


def ready(receipt: CallbackReceipt) -> Ready | None:
    """``receipt`` with the document read from its body, or None when a chunk may not take it.

    Read just before its chunk is applied, never a whole batch ahead: a body
    within every limit may still parse into tens of megabytes (a thousand
    arrays of numbers), so only the bodies of one chunk are held parsed at once.
    """
    try:
        if receipt.truncated or receipt.status != Status.RECEIVED:
            return None
        if shipping_settings.account(receipt.account).callback_verify:
            return None  # verify mode asks the provider first
        body = bytes(receipt.body)
        if receipt.dedupe_key == dedupe_key(body):
            # Stored under its bytes' key (the view could not read it then): its content's
            # key now, before the chunk looks for duplicates and with the outcome.
            document, receipt.dedupe_key = examine_keyed(body, get_provider(receipt.account))
        else:
            document = examine(body, get_provider(receipt.account))
    except Exception:  # recorded on the receipt when it is processed on its own
        return None
    return Ready(receipt, document.pushed(receipt.received_at))


def process_chunk(chunk: Sequence[Ready]) -> list[str] | None:
    """Apply ``chunk`` in one transaction; the outcome of each, or None if it was rolled back."""
    if not chunk:
        return []
    before = [_fields(item.receipt) for item in chunk]
    try:
        with transaction.atomic(using=router.db_for_write(Order)):
            return _apply(chunk)
    except Exception:
        # Nothing of the chunk is kept: its receipts are taken one by one, as they were
        # before it (an outcome written in memory would count a second attempt).
        for item, fields in zip(chunk, before, strict=True):
            for name, value in fields.items():
                setattr(item.receipt, name, value)
        return None


def _fields(receipt: CallbackReceipt) -> dict[str, object]:
    return {f.attname: getattr(receipt, f.attname) for f in receipt._meta.concrete_fields}


def _apply(chunk: Sequence[Ready]) -> list[str]:
    held = _lock_orders(chunk)
    _claim(chunk)
    writes = held.writes = HeldWrites(router.db_for_write(Order))
    # After the lock, in a statement of its own: it sees a copy that a delivery holding
    # one of these rows committed as processed while this chunk waited for it.
    processed = _processed_duplicates(chunk)
    outcomes: list[str] = []
    for item in chunk:
        receipt, document = item.receipt, item.document
        attempts = receipt.attempts + 1
        key = (receipt.account, receipt.dedupe_key)
        earlier = processed.get(key) if receipt.dedupe_key else None
        if earlier is not None:
            outcome = duplicate_outcome(receipt, earlier, attempts, document, writes)
            outcomes.append(str(outcome.status))
            continue
        result = sync.apply_document(
            receipt.account, document, Source.CALLBACK, receipt=receipt, savepoint=False, held=held
        )
        status = Status.IGNORED if result.stale else Status.PROCESSED
        finish(
            receipt,
            status,
            f"stale: {result.stale_reason}" if result.stale else " ".join(document.warnings),
            attempts,
            reference=document.reference,
            order=result.order,
            sync_result=result,
            writes=writes,
        )
        if status == Status.PROCESSED and receipt.dedupe_key:
            processed.setdefault(key, receipt.pk)  # a later copy in this chunk is a duplicate
        outcomes.append(str(status))
    writes.flush()  # the orders, events, lines and outcomes: one statement each
    return outcomes


def _claim(chunk: Sequence[Ready]) -> None:
    """Lock the chunk's receipts (after its orders, as a single receipt's processing does)
    and make sure no other run processed one since the drain read it: every processing
    counts an attempt. If one did, the chunk is undone and its receipts are taken one at a
    time, where each records its outcome only over the receipt as it read it."""
    expected = {item.receipt.pk: item.receipt.attempts for item in chunk}
    rows = CallbackReceipt.objects.select_for_update().filter(pk__in=list(expected))
    found = dict(rows.order_by("pk").values_list("pk", "attempts"))
    if found != expected:
        raise ReceiptTaken(next(pk for pk in expected if found.get(pk) != expected[pk]))


def _processed_duplicates(chunk: Sequence[Ready]) -> dict[tuple[str, str], int]:
    """(account, dedupe key) -> the first processed receipt with that body, for the chunk."""
    keys = {item.receipt.dedupe_key for item in chunk if item.receipt.dedupe_key}
    if not keys:
        return {}
    rows = (
        CallbackReceipt.objects.filter(
            account__in={item.receipt.account for item in chunk},
            dedupe_key__in=keys,
            status=Status.PROCESSED,
        )
        .values_list("account", "dedupe_key")
        .annotate(first=Min("pk"))
        .order_by()
    )
    return {(account, key): first for account, key, first in rows}


def _lock_orders(chunk: Sequence[Ready]) -> HeldOrders:
    """Every order the chunk is about that exists, locked in primary-key order.

    And whether any order is being placed in those accounts: only then may a
    document of the chunk be about a row that has no reference yet.
    """
    by_account: dict[str, set[str]] = {}
    for item in chunk:
        by_account.setdefault(item.receipt.account, set()).add(item.document.reference)
    held = HeldOrders()
    held.placements = Order.objects.filter(
        account__in=list(by_account), reference__isnull=True, placement__in=AWAITING_REFERENCE
    ).exists()
    for account, references in sorted(by_account.items()):
        rows = Order.objects.select_for_update().filter(account=account, reference__in=references)
        for order in rows.order_by("pk"):
            assert order.reference is not None
            held[account, order.reference] = order
    return held
