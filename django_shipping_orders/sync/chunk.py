"""Applying a chunk of fetched documents together: one transaction, one queued label task.

The refresh engine fetches orders a chunk at a time. On PostgreSQL a commit
waits for the disk (a few milliseconds, whatever it holds), and every queued
django-q2 task is a row (or a message) of its own; written one order at a
time, a first sync spends more on commits and task rows than on the data.
Here each document still goes through :func:`.apply.apply_document`, the one
write path, inside a savepoint of its own, so that one failing document is
rolled back alone and the others are kept; the chunk commits once, and the
label downloads its documents ask for are queued as one task after that
commit.

The order rows stay locked until the chunk commits: a callback about one of
them waits that long (a chunk is at most a hundred orders, well under a
second). Rows are locked in id order, so two chunks never wait on each other
in a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from .. import schedules
from ..documents import OrderDocument
from ..redaction import get_logger
from .apply import SyncResult, apply_document

logger = get_logger("django_shipping_orders.sync")


@dataclass(frozen=True)
class ChunkItem:
    """One document of a chunk: the account it belongs to, and when it was fetched."""

    account: str
    document: OrderDocument
    observed_at: datetime | None = None
    #: Sorts the chunk so that rows are locked in one order (the order's id, when known).
    key: int = 0


def apply_documents(
    items: Sequence[ChunkItem],
    source: str,
    *,
    labels: schedules.LabelBatch | None = None,
) -> list[SyncResult | Exception]:
    """Apply ``items`` in one transaction; one result (or the exception it raised) per item.

    ``labels`` collects the label downloads asked for; without it, they are
    queued as one task once the chunk has committed. An exception that
    fails the commit itself is raised: nothing of the chunk was written.
    """
    batch = labels if labels is not None else schedules.LabelBatch()
    results: dict[int, SyncResult | Exception] = {}
    order = sorted(range(len(items)), key=lambda index: items[index].key)
    with schedules.collecting_labels(batch), transaction.atomic():
        for index in order:
            item = items[index]
            try:
                with transaction.atomic():  # a savepoint: a failure undoes this document only
                    results[index] = apply_document(
                        item.account, item.document, source, observed_at=item.observed_at
                    )
            except Exception as err:
                results[index] = err
    if labels is None:
        batch.flush()
    return [results[index] for index in range(len(items))]
