"""What the refresh engine's claiming thread writes, once per chunk, for the answers fetched.

The worker threads only fetch and compare; every write of a run happens
here, between chunks:

- the bookkeeping of the unchanged answers, and their leases given back, in
  one short transaction: one SELECT that locks the rows and one UPDATE sent
  for all of them at once (``executemany``, ``sync.record_unchanged_fetches``),
  only for rows not touched since they were claimed (``updated_at``);
- the changed answers (and the unchanged ones whose row was touched since
  the claim) through ``sync.apply_documents``: ``apply_document`` for each in
  a savepoint, one commit for the chunk, and one django-q2 task for all the
  label downloads they ask for.

Why not one write per order in each worker: on SQLite concurrent writers
queue for the database lock; on PostgreSQL a commit waits for the disk, so a
commit and a task row per order cost more than the data itself (a first
sync brings a label for every order); and on every database an ORM statement
per order costs more CPU than the request it records.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol

from django.db import transaction
from django.utils import timezone

from .. import policy, schedules, sync
from ..documents import OrderDocument
from ..models import Order
from ..redaction import get_logger
from ..sync.chunk import ChunkItem, apply_documents
from .claims import _writes

logger = get_logger("django_shipping_orders.refresh")

#: An order as claimed, the provider's answer about it, and when it was asked for.
Fetched = tuple[Order, OrderDocument, datetime]


class Tally(Protocol):
    """How the engine counts what was written (its summary, its progress, the leases)."""

    def _count_fetched(self, changed: bool, count: int = 1) -> None: ...
    def _failed(self, order: Order, err: Exception) -> None: ...
    def _fail(self, order: Order, error: Exception, message: str = "") -> None: ...
    def _finish(self, orders: list[Order], *, released: bool = False) -> None: ...


class ChunkWriter:
    """Collects the answers the workers fetched; :meth:`write` writes them (the claiming thread)."""

    def __init__(self, tally: Tally, *, source: str, policy: policy.PolicySettings) -> None:
        self._tally = tally
        self._source = source
        self._policy = policy
        self._lock = threading.Lock()
        self._unchanged: list[Fetched] = []
        self._changed: list[Fetched] = []
        #: Label downloads asked for by the answers applied, queued once per chunk.
        self.labels = schedules.LabelBatch()
        #: Spare polls (refresh/spare.py) that find nothing new leave the order's next poll
        #: where its schedule put it: they come on top of it, never instead of it.
        self.keep_schedule = False

    def add(self, entry: Fetched, *, changed: bool) -> None:
        with self._lock:
            (self._changed if changed else self._unchanged).append(entry)

    def write(self) -> None:
        """Write what was fetched since the last call."""
        written = self._write_unchanged()  # first: a row touched since its claim joins the changed
        written += self._write_changed()
        # A label whose download failed or was never queued (a broker outage) is queued
        # again by the order's next poll, whatever that poll found (schedules.label_retry_wanted).
        try:
            if written:
                retry = Order.objects.filter(schedules.label_retry_wanted(), pk__in=written)
                # Not again while a download queued earlier still waits in the broker.
                for order_id in schedules.not_queued(list(retry.values_list("pk", flat=True))):
                    self.labels.add(order_id)
        except Exception:
            logger.exception("Could not look for the missing labels of %d orders", len(written))
        self.labels.flush()

    def _write_changed(self) -> list[int]:
        """Apply the changed answers fetched so far: one transaction, their labels in one task.

        Returns the ids of the orders written.
        """
        with self._lock:
            pending, self._changed = self._changed, []
        if not pending:
            return []
        items = [
            ChunkItem(order.account, document, started, key=order.pk)
            for order, document, started in pending
        ]
        try:
            with _writes():
                outcomes = apply_documents(items, self._source, labels=self.labels)
        except Exception as err:  # the commit failed: nothing of the chunk was written
            outcomes = [err] * len(pending)
        written: list[int] = []
        for (order, _, _), outcome in zip(pending, outcomes, strict=True):
            if isinstance(outcome, Exception):
                self._tally._failed(order, outcome)
            else:
                self._tally._count_fetched(outcome.changed)
                written.append(order.pk)
        self._tally._finish([order for order, _, _ in pending])
        return written

    def _write_unchanged(self) -> list[int]:
        """Write the bookkeeping of the unchanged orders fetched so far, and give back their leases.

        Returns the ids of the orders written.

        One transaction: the rows are locked and checked against the
        ``updated_at`` read at claim time, and the untouched ones are written
        by ``sync.record_unchanged_fetches``. A row changed since it was claimed (a
        callback, an admin action) goes through ``apply_document`` instead,
        which decides what is newer.
        """
        with self._lock:
            pending, self._unchanged = self._unchanged, []
        if not pending:
            return []
        now = timezone.now()
        entries = {order.pk: (order, document, started) for order, document, started in pending}
        written: list[tuple[Order, datetime | None, datetime]] = []
        try:
            with _writes(), transaction.atomic():
                rows = (
                    Order.objects.select_for_update()
                    .filter(pk__in=entries)
                    .values_list("pk", "updated_at")
                )
                for pk, updated_at in rows:
                    order = entries[pk][0]
                    if updated_at != order.updated_at:
                        continue
                    order.refresh_failures = 0
                    next_at = (
                        order.next_refresh_at
                        if self.keep_schedule
                        else policy.next_refresh_at(
                            order, now=now, source=self._source, policy=self._policy
                        )
                    )
                    written.append((order, next_at, entries[pk][2]))
                if written:
                    sync.record_unchanged_fetches(written, now)
        except Exception as err:
            logger.exception("Could not write the refresh bookkeeping of %d orders", len(pending))
            for order, _, _ in pending:
                self._tally._fail(order, err, f"{type(err).__name__}: {err}")
            self._tally._finish([order for order, _, _ in pending])
            return []
        self._tally._count_fetched(False, len(written))
        self._tally._finish([order for order, _, _ in written], released=True)
        done = {order.pk for order, _, _ in written}
        with self._lock:
            # Changed since it was claimed: the full path decides what is newer.
            self._changed += [entry for entry in pending if entry[0].pk not in done]
        return list(done)
