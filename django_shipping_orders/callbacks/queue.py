"""The deferred drain: receipts stored by the view are processed by a django-q2 task.

The view stores the body and answers 202; :func:`request_processing` makes
sure one drain task is queued; :func:`process_pending` works through every
receipt still ``received``, oldest first, in chunks applied in one
transaction each (``chunks.py``). A chunk is all or nothing: when anything in
it fails, its receipts are processed again one at a time, one guard per
receipt: whatever one receipt does (a body no database can store, an
exception of any kind), it is recorded on that receipt and the drain moves on. A drain never takes a
receipt twice, and a receipt waiting after a transient error
(``next_attempt_at``) is left for a later run, so nothing is retried in a
tight loop and every run makes progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from django.core.cache import BaseCache, caches
from django.db.models import Q, QuerySet
from django.db.models.functions import Length
from django.utils import timezone

from .. import locks, schedules
from ..bounded import storable
from ..conf import shipping_settings
from ..models import CallbackReceipt
from ..redaction import get_logger
from . import chunks
from .processing import process_receipt

logger = get_logger("django_shipping_orders.callbacks")

Status = CallbackReceipt.Status

#: Cache key set while a drain task is queued or running (coalesces many callbacks into one task).
_DRAIN_QUEUED_KEY = "shipping_orders:callbacks:drain-queued"
#: How long that key lives if its task is lost; the every-minute schedule covers the rest.
_DRAIN_QUEUED_TIMEOUT = 60
#: How long the drain's lock outlives a drain that was killed (a worker's timeout, a
#: restart): the drain renews it after every chunk, so it can be short.
DRAIN_GUARD = 120
#: Receipts fetched per round of a drain.
_DRAIN_BATCH = 200
#: In inline mode, a receipt still ``received`` after this long was left behind by its request.
_INLINE_LEFT_BEHIND = timedelta(minutes=1)


def _nothing() -> None:
    """What :func:`_process_batch` renews when no guard is given."""


def request_processing() -> None:
    """Deferred mode: make sure a drain task is queued for the receipts stored so far.

    One ``cache.add`` per callback; a task is queued only when none is
    pending, so a burst of callbacks costs one task, not one each.
    """
    if _marker_cache().add(_DRAIN_QUEUED_KEY, 1, timeout=_DRAIN_QUEUED_TIMEOUT):
        schedules.enqueue_callback_drain()


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
        with locks.overlap_guard("process_pending_callbacks", timeout=DRAIN_GUARD) as guard:
            if guard:
                _drain(cache, counts, guard)
                return counts
        if time.monotonic() > deadline:
            return counts  # another drain is busy and will see what is waiting
        time.sleep(0.2)


def _marker_cache() -> BaseCache:
    """The cache every process shares (the rate limit's), where the drain marker lives."""
    return caches[shipping_settings.rate_limit_cache]


def _drain(cache: BaseCache, counts: dict[str, int], guard: locks.Guard) -> None:
    now = timezone.now()
    waiting = CallbackReceipt.objects.filter(status=Status.RECEIVED).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    if shipping_settings.callback_processing == "inline":
        # The view is processing fresh ones itself: only take those it left behind.
        waiting = waiting.filter(received_at__lte=now - _INLINE_LEFT_BEHIND)
    last_pk = 0
    attempted: set[int] = set()
    while True:
        batch = list(_without_bodies(waiting.filter(pk__gt=last_pk)).order_by("pk")[:_DRAIN_BATCH])
        if not batch:
            # A receipt may commit after one stored later (ids are handed out at INSERT):
            # walking up the ids passed it by, so look below them too.
            batch = _passed_by(waiting, last_pk, attempted)
        if not batch:
            cache.delete(_DRAIN_QUEUED_KEY)
            # A receipt stored between the query and the delete saw the marker and
            # queued nothing: look once more now that new ones will queue a task.
            if waiting.filter(pk__gt=last_pk).exists() or _passed_by(waiting, last_pk, attempted):
                continue
            return
        last_pk = max(last_pk, batch[-1].pk)
        attempted.update(receipt.pk for receipt in batch)  # never taken twice in one run
        # Renewed after every chunk: still working, so the next drain keeps waiting.
        for status in _process_batch(batch, guard.renew):
            counts[status] = counts.get(status, 0) + 1


def _passed_by(
    waiting: QuerySet[CallbackReceipt], last_pk: int, attempted: set[int]
) -> list[CallbackReceipt]:
    """Receipts still waiting below ``last_pk`` that this run has not taken, oldest first."""
    ids = waiting.filter(pk__lte=last_pk).order_by("pk").values_list("pk", flat=True)
    fresh = [pk for pk in ids if pk not in attempted][:_DRAIN_BATCH]
    return list(_without_bodies(waiting.filter(pk__in=fresh)).order_by("pk")) if fresh else []


def _without_bodies(receipts: QuerySet[CallbackReceipt]) -> QuerySet[CallbackReceipt]:
    """``receipts`` without their bodies, each with its size: a batch's bodies are read a
    chunk at a time (:func:`_with_bodies`), so 200 bodies near the size limit are never
    held at once."""
    return receipts.defer("body").annotate(body_size=Length("body"))


def _with_bodies(receipts: list[CallbackReceipt]) -> list[CallbackReceipt]:
    """``receipts`` with their bodies read (one query), as their chunk is about to be applied;
    those deleted since the batch was fetched are left out."""
    missing = [r for r in receipts if "body" in r.get_deferred_fields()]
    if not missing:
        return receipts
    ids = [r.pk for r in missing]
    bodies = dict(CallbackReceipt.objects.filter(pk__in=ids).values_list("pk", "body"))
    for receipt in missing:
        if receipt.pk in bodies:
            receipt.body = bodies[receipt.pk]
    return [r for r in receipts if "body" not in r.get_deferred_fields()]


def _process_batch(batch: list[CallbackReceipt], renew: Callable[[], None] = _nothing) -> list[str]:
    """The outcomes of ``batch``, in order of arrival: in chunks where they may be, else alone.

    The bodies of a group of receipts are read just before it (``CHUNK_SIZE``
    receipts, or ``CHUNK_BYTES`` of bodies, by the sizes the batch came with),
    and each is parsed as its chunk fills (``chunks.ready``): what a drain
    holds, read or parsed, and the time to its next commit stay bounded
    however dense the bodies. ``renew`` is called after each chunk (the drain's guard).
    """
    outcomes: list[str] = []
    for group in _groups(batch):
        group = _with_bodies(group)
        chunk: list[chunks.Ready] = []
        for receipt in group:
            item = chunks.ready(receipt)
            if item is None:
                outcomes += _apply(chunk)  # in order of arrival: the chunk before it first
                chunk = []
                outcomes.append(_process_one(receipt))
            else:
                chunk.append(item)
        outcomes += _apply(chunk)
        renew()
    return outcomes


def _groups(batch: list[CallbackReceipt]) -> list[list[CallbackReceipt]]:
    """``batch`` cut into runs of at most ``CHUNK_SIZE`` receipts and ``CHUNK_BYTES`` of bodies
    (a body larger than that alone)."""
    groups: list[list[CallbackReceipt]] = []
    size = 0
    for receipt in batch:
        body = getattr(receipt, "body_size", None) or 0
        if not groups or len(groups[-1]) >= chunks.CHUNK_SIZE or size + body > chunks.CHUNK_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(receipt)
        size += body
    return groups


def _apply(chunk: list[chunks.Ready]) -> list[str]:
    """The outcomes of ``chunk``: applied in one transaction, or one by one if it rolled back."""
    if not chunk:
        return []
    done = chunks.process_chunk(chunk)
    if done is None:  # rolled back: each receipt under its own guard
        done = [_process_one(item.receipt) for item in chunk]
    return done


def _process_one(receipt: CallbackReceipt) -> str:
    """Process one receipt under its own guard; returns its outcome."""
    try:
        return str(process_receipt(receipt).status)
    except Exception as err:  # process_receipt records its own failures; this is the last guard
        logger.error(
            "Callback receipt %s could not be processed: %s",
            receipt.pk,
            storable(f"{type(err).__name__}: {err}"),
        )
        return str(Status.FAILED)
