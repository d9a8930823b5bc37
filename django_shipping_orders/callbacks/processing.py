"""Processing a stored callback: parse, apply, record the outcome on the receipt.

:func:`process_receipt` turns a stored body into an order document and hands
it to ``sync.apply_document``. It never raises, whatever the body or the
database does: every outcome is written on the receipt, and each receipt is
processed under its own guard, so one receipt can never hold up another.

- ``processed``: applied (possibly changing nothing);
- ``ignored``: a duplicate, stale, or (verify mode) an order the provider does
  not know;
- ``unprocessable``: the body can never be applied (see ``bodies.examine``);
- ``failed``: applying it raised; the error and traceback are kept for staff
  and ``reprocessing.reprocess`` (the command, the admin action) tries it again;
- still ``received``: a transient database error (a lock, a deadlock, a
  serialization failure) got in the way; the receipt waits a little
  (``next_attempt_at``) and the every-minute drain takes it again.

Every text written on a receipt goes through ``bounded.storable`` first, so
that recording a failure can never fail in its turn.
"""

from __future__ import annotations

import random
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import connections, router, transaction
from django.utils import timezone

from .. import signals, statements, sync, transient
from ..bounded import storable
from ..conf import shipping_settings
from ..documents import OrderDocument
from ..exceptions import CallbackError, OrderNotFound
from ..models import CallbackReceipt, Order, Source
from ..providers import get_provider
from ..redaction import get_logger, scrub
from .bodies import examine_keyed

if TYPE_CHECKING:
    from ..sync.held import HeldWrites

logger = get_logger("django_shipping_orders.callbacks")

Status = CallbackReceipt.Status

_REFERENCE_LENGTH = CallbackReceipt._meta.get_field("reference").max_length or 64
#: What recording an outcome changes on a receipt.
_OUTCOME_FIELDS = (
    "dedupe_key",
    "status",
    "error",
    "traceback",
    "attempts",
    "processed_at",
    "next_attempt_at",
    "reference",
    "order_id",
)

#: Quick tries of a receipt that met a transient database error, before it waits for the drain.
TRANSIENT_TRIES = 3
#: How long such a receipt then waits before the drain takes it again: doubled per attempt.
RETRY_DELAY = timedelta(seconds=15)
RETRY_DELAY_MAX = timedelta(minutes=10)


@dataclass
class ProcessResult:
    """What :func:`process_receipt` did with one receipt."""

    receipt: CallbackReceipt
    status: str
    reason: str = ""
    #: Set when the body itself is unusable; the view answers 400 with ``code`` and ``reason``.
    bad_input: bool = False
    code: str = ""
    sync: sync.SyncResult | None = None

    @property
    def failed(self) -> bool:
        return self.status == Status.FAILED


def process_receipt(
    receipt: CallbackReceipt, *, document: OrderDocument | None = None
) -> ProcessResult:
    """Apply a stored callback to the orders and record the outcome on the receipt; never raises.

    ``document`` is the body already examined by the view (it is read again
    otherwise). The provider is asked for the order (verify mode) before any
    transaction starts, so no HTTP call happens while an order row is locked.
    """
    if receipt.status == Status.REJECTED:
        return ProcessResult(receipt, Status.REJECTED, "not authenticated: never processed")
    if receipt.truncated:
        return ProcessResult(
            receipt, receipt.status, receipt.error, bad_input=True, code="too_large"
        )
    attempts = receipt.attempts + 1
    in_transaction = connections[router.db_for_write(CallbackReceipt)].in_atomic_block
    # A try that failed was rolled back: the receipt is again what was read, in memory too.
    as_read = {name: getattr(receipt, name) for name in _OUTCOME_FIELDS}
    delay = 0.05
    for quick_try in range(1, TRANSIENT_TRIES + 1):
        try:
            return _process(receipt, document, attempts)
        except ReceiptTaken:
            return _taken(receipt)
        except Exception as err:
            for name, value in as_read.items():
                setattr(receipt, name, value)
            if transient.is_transient(err) and quick_try < TRANSIENT_TRIES and not in_transaction:
                transient.reconnect_if_lost(router.db_for_write(CallbackReceipt))
                time.sleep(delay * (0.5 + random.random()))
                delay *= 2
                continue
            return _fail(receipt, err, attempts, reference=document.reference if document else None)
    raise AssertionError("unreachable")  # pragma: no cover


def _process(
    receipt: CallbackReceipt, document: OrderDocument | None, attempts: int
) -> ProcessResult:
    account = shipping_settings.account(receipt.account)
    provider = get_provider(receipt.account)
    if document is None:
        try:
            document, key = examine_keyed(bytes(receipt.body), provider)
        except CallbackError as err:
            unusable = Status.UNPROCESSABLE
            return _finish(
                receipt, unusable, str(err), attempts, bad_input=True, code=err.code, error=err
            )
        # Stored under its bytes' key if the view could not read it (a FIELD_MAP fixed since).
        receipt.dedupe_key = key

    verify = account.callback_verify
    if verify:
        # Before asking the provider: a duplicate needs no HTTP call. Otherwise the
        # duplicate is looked for by the statement that locks the order.
        with transaction.atomic():
            duplicate_of = _processed_duplicate(receipt)
            if duplicate_of is not None:
                return duplicate_outcome(receipt, duplicate_of, attempts, document)

    document = document.pushed(receipt.received_at)
    if verify:
        # The body is only a hint: what the provider says is applied instead.
        sent_at = timezone.now()
        try:
            document = provider.get_order(document.reference).fetched(sent_at)
        except OrderNotFound:
            with transaction.atomic():
                return _finish(
                    receipt,
                    Status.IGNORED,
                    f"verify: the provider does not know order {document.reference!r}",
                    attempts,
                    reference=document.reference,
                )

    with transaction.atomic():
        # No savepoint inside: an error undoes this whole transaction anyway.
        result = sync.apply_document(
            receipt.account,
            document,
            Source.CALLBACK,
            receipt=receipt,
            savepoint=False,
            find_duplicate=not verify,
        )
        if result.duplicate_of is not None:
            return duplicate_outcome(receipt, result.duplicate_of, attempts, document)
        return _finish(
            receipt,
            Status.IGNORED if result.stale else Status.PROCESSED,
            f"stale: {result.stale_reason}" if result.stale else " ".join(document.warnings),
            attempts,
            reference=document.reference,
            order_id=result.order.pk,
            sync_result=result,
        )


class ReceiptTaken(Exception):
    """Another run processed the receipt since this one read it: this run's work is undone."""


def _taken(receipt: CallbackReceipt) -> ProcessResult:
    """What another run (a drain, a reprocess, the admin) recorded on ``receipt`` meanwhile."""
    logger.info("Callback receipt %s was processed by another run meanwhile", receipt.pk)
    receipt.refresh_from_db()
    return ProcessResult(receipt, receipt.status, receipt.error)


def duplicate_outcome(
    receipt: CallbackReceipt,
    duplicate_of: int,
    attempts: int,
    document: OrderDocument,
    writes: HeldWrites | None = None,
) -> ProcessResult:
    """Record ``receipt`` as ignored: the receipt ``duplicate_of`` had the same body."""
    return _finish(
        receipt,
        Status.IGNORED,
        f"duplicate of receipt {duplicate_of}",
        attempts,
        reference=document.reference,
        writes=writes,
    )


def _processed_duplicate(receipt: CallbackReceipt) -> int | None:
    """The id of an identical body already processed, if any."""
    if not receipt.dedupe_key:
        return None
    return (
        CallbackReceipt.objects.filter(
            account=receipt.account, dedupe_key=receipt.dedupe_key, status=Status.PROCESSED
        )
        .exclude(pk=receipt.pk)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )


def _finish(
    receipt: CallbackReceipt,
    status: str,
    reason: str,
    attempts: int,
    *,
    reference: str | None = None,
    order_id: int | None = None,
    bad_input: bool = False,
    code: str = "",
    error: Exception | None = None,
    sync_result: sync.SyncResult | None = None,
    writes: HeldWrites | None = None,
    order: Order | None = None,
) -> ProcessResult:
    """Write the outcome on the receipt (one UPDATE) and queue the signal for after commit.

    ``writes``: a drain chunk's held writes; the UPDATE waits there with the chunk's others.
    ``order``: the receipt's order, instead of ``order_id`` (a held new order has no id yet).
    """
    if receipt.status == Status.PROCESSED and status == Status.IGNORED:
        # Processed again (reprocess --since, the admin): applied in its time, stale or a
        # duplicate now. It keeps the outcome that says it was applied.
        status, reason = Status.PROCESSED, f"processed before; not applied again: {reason}"
    reason = storable(scrub(reason, receipt.account))
    values: dict[str, Any] = {
        "dedupe_key": receipt.dedupe_key,
        "status": status,
        "error": f"{code}: {reason}" if code else reason,
        "traceback": "",
        "attempts": attempts,
        "processed_at": timezone.now(),
        "next_attempt_at": None,
    }
    if reference is not None:
        values["reference"] = storable(reference)
    if order is not None:
        values["order_id"] = order.pk
    elif order_id is not None:
        values["order_id"] = order_id
    # Redoable only from a receipt still received as read: after a crash it is received
    # again, and the drain takes it. A failed or unprocessable receipt processed again (the
    # command, the admin) would fall back to its old outcome, which the drain never takes.
    redoable = receipt.status == Status.RECEIVED
    for name, value in values.items():
        setattr(receipt, name, value)
    if writes is not None:
        # The chunk holds its receipts' locks.
        writes.receipt(receipt, list(values), order, redoable=redoable)
    else:
        # The statement is built once (one per set of columns): it runs for every callback.
        # Only if no one else processed the receipt meanwhile (attempts counts every
        # processing): else this transaction is undone, and that outcome stands.
        using = router.db_for_write(CallbackReceipt)
        expect = {"attempts": attempts - 1}
        redoable = redoable and statements.own_transaction(using)
        if not statements.update(receipt, list(values), using, expect=expect, redoable=redoable):
            raise ReceiptTaken(receipt.pk)
    result = ProcessResult(
        receipt, status, reason, bad_input=bad_input, code=code, sync=sync_result
    )
    if status == Status.UNPROCESSABLE:
        logger.warning(
            "Callback receipt %s (%s) is unusable: %s", receipt.pk, receipt.account, values["error"]
        )
        send_failed(receipt, error)
    else:
        transaction.on_commit(
            lambda: signals.callback_processed.send(
                sender=CallbackReceipt, receipt=receipt, result=result
            ),
            robust=True,
        )
    return result


#: For the drain's chunks (``chunks.py``), which record outcomes the same way.
finish = _finish


def send_failed(receipt: CallbackReceipt, error: BaseException | None) -> None:
    """``callback_failed`` for ``receipt``, after commit; a failing receiver is only logged."""
    transaction.on_commit(
        lambda: signals.callback_failed.send(
            sender=CallbackReceipt, receipt=receipt, exception=error
        ),
        robust=True,
    )


def _fail(
    receipt: CallbackReceipt, error: Exception, attempts: int, *, reference: str | None = None
) -> ProcessResult:
    """Record a processing failure; a transient one leaves the receipt ``received`` for later.

    Never raises: if even the failure cannot be written, it is logged and the
    receipt keeps the status it had (the drain or the command takes it again).
    """
    message = storable(scrub(f"{type(error).__name__}: {error}", receipt.account))[:2000]
    retry = transient.is_transient(error)
    now = timezone.now()
    values: dict[str, Any] = {
        "status": Status.RECEIVED if retry else Status.FAILED,
        "error": f"transient, will be tried again: {message}" if retry else message,
        "traceback": storable(scrub(traceback.format_exc(), receipt.account))[-20000:],
        "attempts": attempts,
        "processed_at": None if retry else now,
        "next_attempt_at": now + retry_delay(attempts) if retry else None,
    }
    if reference and len(reference) <= _REFERENCE_LENGTH:
        values["reference"] = storable(reference)
    if retry:
        transient.reconnect_if_lost(router.db_for_write(CallbackReceipt))
    try:
        with transaction.atomic():
            # Only over the receipt as this run read it (see _finish).
            taken = not (
                CallbackReceipt.objects.filter(pk=receipt.pk, attempts=attempts - 1).update(
                    **values
                )
            )
    except Exception as write_error:
        logger.error(
            "Callback receipt %s (%s): processing failed (%s) and so did recording it (%s); "
            "it stays %s and is taken again later.",
            receipt.pk,
            receipt.account,
            message,
            storable(f"{type(write_error).__name__}: {write_error}"),
            receipt.status,
        )
        # Its status as stored: still received (the view answers 202), or as it was before a
        # reprocess.
        return ProcessResult(receipt, receipt.status, message)
    if taken:
        return _taken(receipt)
    for name, value in values.items():
        setattr(receipt, name, value)
    if retry:
        logger.warning(
            "Callback receipt %s (%s) met a transient database error (%s); it is taken again "
            "after %s.",
            receipt.pk,
            receipt.account,
            message,
            values["next_attempt_at"],
        )
        return ProcessResult(receipt, Status.RECEIVED, values["error"])
    # No exc_info: a traceback may quote data we do not control. It is on the receipt.
    logger.error(
        "Processing callback receipt %s (%s) failed: %s. The body is stored; reprocess it with "
        "reprocess_shipping_callbacks --ids %s.",
        receipt.pk,
        receipt.account,
        message,
        receipt.pk,
    )
    send_failed(receipt, error)
    return ProcessResult(receipt, Status.FAILED, message)


def retry_delay(attempts: int) -> timedelta:
    """How long a receipt waits after its ``attempts``-th transient failure."""
    return min(RETRY_DELAY_MAX, RETRY_DELAY * (1 << min(max(attempts - 1, 0), 10)))
