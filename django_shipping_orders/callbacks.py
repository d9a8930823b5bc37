"""Processing of stored callbacks: one function for the view, the command and the admin.

A callback is first stored as a :class:`~.models.CallbackReceipt` (see
``views.CallbackView``); :func:`process_receipt` then turns the stored body
into an order document and hands it to ``sync.apply_document``. It never
raises for a bad body or a failing apply: the outcome is written on the
receipt (``processed``, ``ignored`` with the reason, or ``failed`` with the
error and traceback for staff), so that a failed receipt can always be
processed again with ``reprocess_shipping_callbacks`` or the admin action.

Secrets never reach a receipt: headers are redacted before they are stored,
and error texts and tracebacks are scrubbed of the account's secrets.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import caches
from django.db import connections, router, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from . import signals, sync
from .conf import AccountSettings, shipping_settings
from .documents import OrderDocument, loads
from .exceptions import CallbackError, DocumentError, OrderNotFound
from .models import CallbackReceipt, Source
from .providers import Provider, get_provider
from .schedules import overlap_guard

logger = logging.getLogger("django_shipping_orders.callbacks")

Status = CallbackReceipt.Status

REDACTED = "[redacted]"
#: Header names that always hold credentials, and words that mark one.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_SECRET_WORDS = ("secret", "token", "key", "auth", "signature", "password")

#: The start of the ``error`` of a receipt whose body was too large to keep whole.
TRUNCATED_PREFIX = "Body too large"
#: How much of a too-large body is kept, so staff can see what it was.
TRUNCATED_KEEP_BYTES = 64 * 1024
#: A receipt left ``received`` this long is taken as stuck (its worker died mid-way).
STUCK_AFTER = timedelta(minutes=10)
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


# -- what a receipt may store ----------------------------------------------------------------


def dedupe_key(body: bytes) -> str:
    """The key under which identical bodies are recognised as duplicates."""
    return hashlib.sha256(body).hexdigest()


def is_secret_header(name: str, account: AccountSettings | None = None) -> bool:
    """True for a header whose value must never be stored or shown."""
    lowered = name.lower()
    if account is not None and lowered == account.callback_secret_header.lower():
        return True
    return lowered in _SECRET_HEADERS or any(word in lowered for word in _SECRET_WORDS)


def redact_headers(
    headers: Mapping[str, str], account: AccountSettings | None = None
) -> dict[str, str]:
    """``headers`` with every credential replaced by ``[redacted]``.

    A header is redacted by its name (the account's secret header,
    Authorization, Cookie, anything naming a secret, token, key or auth) and
    also by its value, when it carries one of the account's secrets under
    an unexpected name.
    """
    secrets = _secrets_of(account)
    result = {}
    for name, value in headers.items():
        text = str(value)
        if is_secret_header(name, account) or any(secret in text for secret in secrets):
            text = REDACTED
        result[str(name)] = text.replace("\x00", "\\x00")
    return result


def scrub(text: str, account: AccountSettings | str | None) -> str:
    """``text`` with the account's secrets (callback secrets, API key) replaced."""
    if isinstance(account, str):
        try:
            account = shipping_settings.account(account)
        except Exception:  # a broken setting must not stop us from recording a failure
            account = None
    for secret in sorted(_secrets_of(account), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text.replace("\x00", "\\x00")  # PostgreSQL text cannot hold NUL


def _secrets_of(account: AccountSettings | None) -> list[str]:
    if account is None:
        return []
    return [secret for secret in (*account.callback_secrets, account.api_key) if secret]


# -- processing --------------------------------------------------------------------------------


def process_receipt(receipt: CallbackReceipt) -> ProcessResult:
    """Apply a stored callback to the orders and record the outcome on the receipt.

    Never raises for a bad body or a failing apply. The provider is asked
    for the order (verify mode) before any transaction starts, so no HTTP
    call happens while an order row is locked.
    """
    if receipt.status == Status.REJECTED:
        return ProcessResult(receipt, Status.REJECTED, "not authenticated: never processed")
    if receipt.error.startswith(TRUNCATED_PREFIX):
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
                outcome = _finish(
                    receipt,
                    Status.PROCESSED,
                    "",
                    attempts,
                    reference=document.reference,
                    order_id=result.order.pk,
                    sync_result=result,
                )
    except Exception as err:
        return _fail(receipt, err, attempts, reference=document.reference)
    return outcome


#: Cache key set while a drain task is queued or running (coalesces many callbacks into one task).
_DRAIN_QUEUED_KEY = "shipping_orders:callbacks:drain-queued"
#: How long that key lives if its task is lost; the every-minute schedule covers the rest.
_DRAIN_QUEUED_TIMEOUT = 60
#: Receipts fetched per round of a drain.
_DRAIN_BATCH = 200
#: In inline mode, a receipt still ``received`` after this long was left behind by its request.
_INLINE_LEFT_BEHIND = timedelta(minutes=1)


def store_receipt(receipt: CallbackReceipt) -> None:
    """Save a new receipt in one INSERT, as ``receipt.save()`` would, only cheaper.

    Storing the body is the part of every callback the provider waits on, and
    most of its cost was the ORM compiling the same INSERT each time. The
    statement is built once per database from the model's own fields; values
    still go through each field's ``pre_save`` / ``get_db_prep_save``.
    """
    connection = connections[router.db_for_write(CallbackReceipt)]
    if not connection.features.can_return_columns_from_insert:
        receipt.save()
        return
    params = [
        field.get_db_prep_save(field.pre_save(receipt, True), connection)
        for field in _RECEIPT_FIELDS
    ]
    with connection.cursor() as cursor:
        cursor.execute(_receipt_insert_sql(connection), params)
        receipt.pk = cursor.fetchone()[0]
    receipt._state.adding = False
    receipt._state.db = connection.alias


_RECEIPT_FIELDS = [f for f in CallbackReceipt._meta.concrete_fields if not f.primary_key]
_INSERT_SQL: dict[str, str] = {}


def _receipt_insert_sql(connection: Any) -> str:
    if connection.alias not in _INSERT_SQL:
        quote = connection.ops.quote_name
        meta = CallbackReceipt._meta
        columns = ", ".join(quote(field.column) for field in _RECEIPT_FIELDS)
        values = ", ".join(["%s"] * len(_RECEIPT_FIELDS))
        _INSERT_SQL[connection.alias] = (
            f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({values}) "  # noqa: S608
            f"RETURNING {quote(meta.pk.column)}"
        )
    return _INSERT_SQL[connection.alias]


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


def request_processing() -> None:
    """Deferred mode: make sure a drain task is queued for the receipts stored so far.

    One ``cache.add`` per callback; a task is queued only when none is
    pending, so a burst of callbacks costs one task, not one each.
    """
    from django_q.tasks import async_task

    if _marker_cache().add(_DRAIN_QUEUED_KEY, 1, timeout=_DRAIN_QUEUED_TIMEOUT):
        async_task(
            "django_shipping_orders.tasks.process_pending_callbacks", task_name="shipping-callbacks"
        )


def process_pending(*, wait_seconds: float = 10.0) -> dict[str, int]:
    """Process every receipt still ``received``, oldest first; returns counts by outcome.

    Runs one at a time (a lock in the shared cache; a second drain waits
    for the first, then finds little or nothing left). Before it stops it
    clears the queued marker and looks once more, so a callback stored while
    it was finishing is never left waiting for the next schedule.
    """
    cache = _marker_cache()
    counts: dict[str, int] = {}
    deadline = time.monotonic() + wait_seconds
    while True:
        with overlap_guard("process_pending_callbacks") as acquired:
            if acquired:
                _drain(cache, counts)
                return counts
        if time.monotonic() > deadline:
            return counts  # another drain is busy and will see what is waiting
        time.sleep(0.2)


def _marker_cache() -> Any:
    """The cache every process shares (the rate limit's), where the drain marker lives."""
    return caches[shipping_settings.rate_limit_cache]


def _drain(cache: Any, counts: dict[str, int]) -> None:
    waiting = CallbackReceipt.objects.filter(status=Status.RECEIVED)
    if shipping_settings.callback_processing == "inline":
        # The view is processing fresh ones itself: only take those it left behind.
        waiting = waiting.filter(received_at__lte=timezone.now() - _INLINE_LEFT_BEHIND)
    last_pk = 0
    while True:
        batch = list(waiting.filter(pk__gt=last_pk).order_by("pk")[:_DRAIN_BATCH])
        if not batch:
            cache.delete(_DRAIN_QUEUED_KEY)
            # A receipt stored between the query and the delete saw the marker and
            # queued nothing: look once more now that new ones will queue a task.
            if not waiting.filter(pk__gt=last_pk).exists():
                return
            continue
        for receipt in batch:
            last_pk = receipt.pk
            result = process_receipt(receipt)
            counts[str(result.status)] = counts.get(str(result.status), 0) + 1


def _parse(body: bytes, provider: Provider) -> OrderDocument:
    """The order document in ``body``; raises ``CallbackError`` with a code and a readable reason."""
    payload = _load_object(body)
    try:
        document = provider.parse_document(payload)
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


# -- choosing receipts (commands and admin) ----------------------------------------------------

_AGE_RE = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks", "": "days"}


def parse_age(text: str) -> timedelta:
    """``"90d"``, ``"12h"``, ``"30m"``, ``"2w"`` (a bare number is days); ``ValueError`` otherwise."""
    match = _AGE_RE.match(text or "")
    if not match:
        raise ValueError(f"{text!r} is not an age such as 90d, 12h, 30m or 2w")
    number, unit = match.groups()
    return timedelta(**{_AGE_UNITS[unit]: int(number)})


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """A moment from ``"2025-01-01"``, an ISO 8601 time, or an age back from now (``"7d"``)."""
    now = now or timezone.now()
    try:
        return now - parse_age(text)
    except ValueError:
        pass
    moment = None
    try:
        moment = parse_datetime(text.strip())
        if moment is None and (day := parse_date(text.strip())) is not None:
            moment = datetime(day.year, day.month, day.day)
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError(
            f"{text!r} is neither a date (2025-01-01), a time (2025-01-01T08:00) nor an age (7d)"
        )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def receipts_to_reprocess(
    *,
    failed: bool = False,
    ids: Iterable[int] | None = None,
    since: datetime | None = None,
    account: str | None = None,
    now: datetime | None = None,
) -> QuerySet[CallbackReceipt]:
    """Receipts matching every given filter; rejected ones are never reprocessed.

    ``failed`` means failed receipts and receipts stuck in ``received``
    (their worker died before recording an outcome).
    """
    queryset = CallbackReceipt.objects.exclude(status=Status.REJECTED)
    if failed:
        stuck_before = (now or timezone.now()) - STUCK_AFTER
        queryset = queryset.filter(
            Q(status=Status.FAILED) | Q(status=Status.RECEIVED, received_at__lt=stuck_before)
        )
    if ids is not None:
        queryset = queryset.filter(pk__in=list(ids))
    if since is not None:
        queryset = queryset.filter(received_at__gte=since)
    if account:
        queryset = queryset.filter(account=account)
    return queryset.order_by("received_at", "pk")


def receipts_to_prune(
    older_than: datetime, *, include_failed: bool = False
) -> QuerySet[CallbackReceipt]:
    """Receipts received before ``older_than``; failed and unprocessed ones only when asked."""
    queryset = CallbackReceipt.objects.filter(received_at__lt=older_than)
    if not include_failed:
        queryset = queryset.exclude(status__in=[Status.FAILED, Status.RECEIVED])
    return queryset
