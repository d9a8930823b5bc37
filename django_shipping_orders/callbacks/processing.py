"""Processing a stored callback: parse, apply, record the outcome; and reprocessing.

:func:`process_receipt` turns a stored body into an order document and hands
it to ``sync.apply_document``. It never raises for a bad body or a failing
apply: the outcome is written on the receipt (``processed``, ``ignored`` with
the reason, or ``failed`` with the error and traceback for staff), so that a
failed receipt can always be processed again with :func:`reprocess` (the
``reprocess_shipping_callbacks`` command and the admin action).
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import signals, sync
from ..conf import AccountSettings, shipping_settings
from ..documents import OrderDocument, as_pushed, loads
from ..exceptions import CallbackError, DocumentError, OrderNotFound
from ..models import CallbackReceipt, Source
from ..providers import Provider, get_provider
from ..redaction import get_logger, scrub

logger = get_logger("django_shipping_orders.callbacks")

Status = CallbackReceipt.Status

_MAX_REFERENCE_LENGTH = CallbackReceipt._meta.get_field("reference").max_length or 64


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


def process_receipt(receipt: CallbackReceipt) -> ProcessResult:
    """Apply a stored callback to the orders and record the outcome on the receipt.

    Never raises for a bad body or a failing apply. The provider is asked
    for the order (verify mode) before any transaction starts, so no HTTP
    call happens while an order row is locked.
    """
    if receipt.status == Status.REJECTED:
        return ProcessResult(receipt, Status.REJECTED, "not authenticated: never processed")
    if receipt.truncated:
        return ProcessResult(
            receipt, receipt.status, receipt.error, bad_input=True, code="too_large"
        )
    attempts = receipt.attempts + 1
    try:
        account = shipping_settings.account(receipt.account)
        provider = get_provider(receipt.account)
        document = _parse(bytes(receipt.body), provider)
    except CallbackError as err:
        return _finish(
            receipt, Status.FAILED, str(err), attempts, bad_input=True, code=err.code, error=err
        )
    except Exception as err:  # configuration trouble: keep the body, say why
        return _fail(receipt, err, attempts)

    duplicate_of = (
        CallbackReceipt.objects.filter(
            account=receipt.account, dedupe_key=receipt.dedupe_key, status=Status.PROCESSED
        )
        .exclude(pk=receipt.pk)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
        if receipt.dedupe_key
        else None
    )
    if duplicate_of is not None:
        return _finish(
            receipt,
            Status.IGNORED,
            f"duplicate of receipt {duplicate_of}",
            attempts,
            reference=document.reference,
        )

    observed_at = receipt.received_at
    try:
        if account.callback_verify:
            # The body is only a hint: what the provider says is applied instead.
            observed_at = timezone.now()
            try:
                document = provider.get_order(document.reference)
            except OrderNotFound:
                return _finish(
                    receipt,
                    Status.IGNORED,
                    f"verify: the provider does not know order {document.reference!r}",
                    attempts,
                    reference=document.reference,
                )
        with transaction.atomic():
            result = sync.apply_document(
                receipt.account, document, Source.CALLBACK, observed_at=observed_at, receipt=receipt
            )
            if result.stale:
                outcome = _finish(
                    receipt,
                    Status.IGNORED,
                    f"stale: {result.stale_reason}",
                    attempts,
                    reference=document.reference,
                    order_id=result.order.pk,
                    sync_result=result,
                )
            else:
                # Processed; what could not be stored (kept in raw) is said on the receipt too.
                outcome = _finish(
                    receipt,
                    Status.PROCESSED,
                    " ".join(document.warnings),
                    attempts,
                    reference=document.reference,
                    order_id=result.order.pk,
                    sync_result=result,
                )
    except Exception as err:
        return _fail(receipt, err, attempts, reference=document.reference)
    return outcome


def check_receipt(receipt: CallbackReceipt, account: AccountSettings) -> ProcessResult | None:
    """Deferred mode: fail at once a body that can never be processed.

    Checks what makes a body unusable whatever the settings (not JSON, not an
    object, no usable order reference) and leaves the full parse to the task,
    so that a field a later ``FIELD_MAP`` fix could read is not refused here.
    Returns the failure (already written on the receipt), or ``None``.
    """
    try:
        _check_reference(bytes(receipt.body), account)
    except CallbackError as err:
        return _finish(
            receipt,
            Status.FAILED,
            str(err),
            receipt.attempts + 1,
            bad_input=True,
            code=err.code,
            error=err,
        )
    except Exception:
        return None  # configuration trouble: processing records it on the receipt
    return None


def _check_reference(body: bytes, account: AccountSettings) -> None:
    payload = _load_object(body)
    # The adapter's class says where references live; no adapter is built here.
    reference_keys: tuple[str, ...] = account.provider_class.reference_keys
    keys = [key for key, name in account.field_map.items() if name in reference_keys]
    keys += list(reference_keys)
    reference = next((payload[key] for key in keys if payload.get(key) not in (None, "")), None)
    if not isinstance(reference, str | int):
        raise CallbackError(
            f"The order document has no reference ({' or '.join(reference_keys)}).",
            code="invalid_document",
        )
    _check_reference_text(str(reference).strip())


def _parse(body: bytes, provider: Provider) -> OrderDocument:
    """The order document in ``body``; raises ``CallbackError`` with a code and a readable reason."""
    payload = _load_object(body)
    try:
        # A callback's products are what shipped, whatever else its keys say.
        document = as_pushed(provider.parse_document(payload))
    except DocumentError as err:
        raise CallbackError(str(err), code="invalid_document") from None
    except RecursionError:
        raise CallbackError(
            "The order document is nested too deeply.", code="invalid_document"
        ) from None
    _check_reference_text(document.reference)
    return document


def _load_object(body: bytes) -> dict[str, Any]:
    try:
        payload: Any = loads(body)
    except RecursionError:
        raise CallbackError(
            "The body is nested too deeply to be read.", code="invalid_json"
        ) from None
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise CallbackError(f"The body is not valid JSON ({err}).", code="invalid_json") from None
    if not isinstance(payload, dict):
        raise CallbackError(
            f"The body must be a JSON object, got {_json_type(payload)}.", code="not_an_object"
        )
    return payload


def _check_reference_text(reference: str) -> None:
    if any(ord(char) < 32 for char in reference):
        raise CallbackError(
            "The order reference contains control characters.", code="invalid_document"
        )
    if len(reference) > _MAX_REFERENCE_LENGTH:
        raise CallbackError(
            f"The order reference is longer than {_MAX_REFERENCE_LENGTH} characters.",
            code="invalid_document",
        )


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


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
) -> ProcessResult:
    """Write the outcome on the receipt (one UPDATE) and queue the signal for after commit."""
    now = timezone.now()
    values: dict[str, Any] = {
        "status": status,
        "error": scrub(f"{code}: {reason}" if code else reason, receipt.account),
        "traceback": "",
        "attempts": attempts,
        "processed_at": now,
    }
    if reference is not None:
        values["reference"] = reference
    if order_id is not None:
        values["order_id"] = order_id
    CallbackReceipt.objects.filter(pk=receipt.pk).update(**values)
    for name, value in values.items():
        setattr(receipt, name, value)
    result = ProcessResult(
        receipt,
        status,
        scrub(reason, receipt.account),
        bad_input=bad_input,
        code=code,
        sync=sync_result,
    )
    if status == Status.FAILED:
        logger.warning(
            "Callback receipt %s (%s) is unusable: %s", receipt.pk, receipt.account, values["error"]
        )
        transaction.on_commit(
            lambda: signals.callback_failed.send(
                sender=CallbackReceipt, receipt=receipt, exception=error
            ),
            robust=True,
        )
    else:
        transaction.on_commit(
            lambda: signals.callback_processed.send(
                sender=CallbackReceipt, receipt=receipt, result=result
            ),
            robust=True,
        )
    return result


def _fail(
    receipt: CallbackReceipt, error: Exception, attempts: int, *, reference: str | None = None
) -> ProcessResult:
    """Record a processing failure: the error and traceback for staff, scrubbed of secrets."""
    message = scrub(f"{type(error).__name__}: {error}", receipt.account)[:2000]
    values: dict[str, Any] = {
        "status": Status.FAILED,
        "error": message,
        "traceback": scrub(traceback.format_exc(), receipt.account)[-20000:],
        "attempts": attempts,
        "processed_at": timezone.now(),
    }
    if reference is not None and len(reference) <= _MAX_REFERENCE_LENGTH:
        values["reference"] = reference
    CallbackReceipt.objects.filter(pk=receipt.pk).update(**values)
    for name, value in values.items():
        setattr(receipt, name, value)
    # No exc_info: a traceback may quote data we do not control. It is on the receipt.
    logger.error(
        "Processing callback receipt %s (%s) failed: %s. The body is stored; reprocess it with "
        "reprocess_shipping_callbacks --ids %s.",
        receipt.pk,
        receipt.account,
        message,
        receipt.pk,
    )
    transaction.on_commit(
        lambda: signals.callback_failed.send(
            sender=CallbackReceipt, receipt=receipt, exception=error
        ),
        robust=True,
    )
    return ProcessResult(receipt, Status.FAILED, message)


@dataclass
class ReprocessReport:
    """What :func:`reprocess` did: counts by outcome, the failures, the skipped rejected ones."""

    processed: int = 0
    ignored: int = 0
    failed: list[tuple[CallbackReceipt, str]] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    #: (receipt id, status, reason) of every receipt processed, in order.
    outcomes: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.processed + self.ignored + len(self.failed)


def reprocess(ids: Iterable[int]) -> ReprocessReport:
    """Process the receipts ``ids`` again, oldest first, each on its own; never raises.

    Used by the admin action and ``reprocess_shipping_callbacks``. Rejected
    (unauthenticated) receipts are skipped: they are never processed.
    """
    report = ReprocessReport()
    ordered = (
        CallbackReceipt.objects.filter(pk__in=list(ids))
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)
    )
    for pk in ordered:
        # One at a time: bodies can be large, and each receipt commits on its own.
        receipt = CallbackReceipt.objects.get(pk=pk)
        if receipt.status == Status.REJECTED:
            report.skipped.append(pk)
            continue
        try:
            result = process_receipt(receipt)
            status, reason = str(result.status), result.reason
        except Exception as err:  # keep going: every receipt gets its chance
            status, reason = Status.FAILED, scrub(f"{type(err).__name__}: {err}", receipt.account)
        report.outcomes.append((pk, status, reason))
        if status == Status.PROCESSED:
            report.processed += 1
        elif status == Status.FAILED:
            report.failed.append((receipt, reason))
        else:
            report.ignored += 1
    return report
