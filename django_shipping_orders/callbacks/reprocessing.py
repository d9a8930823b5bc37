"""Reprocessing stored callbacks on request: the admin action and ``reprocess_shipping_callbacks``.

Each receipt is taken on its own through :func:`.processing.process_receipt`,
which only records an outcome over the receipt as it read it: a receipt that
a drain processed meanwhile keeps the drain's outcome and is not applied twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import QuerySet

from ..bounded import storable
from ..models import CallbackReceipt
from .processing import process_receipt

Status = CallbackReceipt.Status


@dataclass
class ReprocessReport:
    """What :func:`reprocess` did: counts by outcome, the failures, the skipped rejected ones."""

    processed: int = 0
    ignored: int = 0
    unprocessable: int = 0
    #: Left ``received`` by a transient database error: taken again by the drain.
    retrying: int = 0
    failed: list[tuple[CallbackReceipt, str]] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    #: Selected, but processed by another run (the drain) before their turn came: left as
    #: that run recorded them.
    taken: list[int] = field(default_factory=list)
    #: (receipt id, status, reason) of every receipt processed, in order.
    outcomes: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.processed + self.ignored + self.unprocessable + self.retrying + len(self.failed)


def reprocess(
    ids: Iterable[int], *, still: QuerySet[CallbackReceipt] | None = None
) -> ReprocessReport:
    """Process the receipts ``ids`` again, oldest first, each on its own; never raises.

    Used by the admin action and ``reprocess_shipping_callbacks``. Rejected
    (unauthenticated) receipts are skipped: they are never processed.
    ``still``: a selection each receipt must still belong to when its turn
    comes (``--failed``: still failed, or still waiting); one the drain
    processed meanwhile is left as the drain recorded it (``taken``).
    """
    report = ReprocessReport()
    ordered = (
        CallbackReceipt.objects.filter(pk__in=list(ids))
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)
    )
    for pk in ordered:
        # One at a time: bodies can be large, and each receipt commits on its own.
        found = (still if still is not None else CallbackReceipt.objects).filter(pk=pk).first()
        if found is None:
            report.taken.append(pk)
            continue
        receipt = found
        if receipt.status == Status.REJECTED:
            report.skipped.append(pk)
            continue
        try:
            result = process_receipt(receipt)
            status, reason = str(result.status), result.reason
        except Exception as err:  # keep going: every receipt gets its chance
            status, reason = Status.FAILED, storable(f"{type(err).__name__}: {err}")
        report.outcomes.append((pk, status, reason))
        if status == Status.PROCESSED:
            report.processed += 1
        elif status == Status.FAILED:
            report.failed.append((receipt, reason))
        elif status == Status.UNPROCESSABLE:
            report.unprocessable += 1
        elif status == Status.RECEIVED:
            report.retrying += 1
        else:
            report.ignored += 1
    return report
