"""django-q2 task functions: thin, taking ids and aliases only, calling what a person would.

Schedule them with ``manage.py install_shipping_schedules``; enqueue
``refresh_order`` with ``async_task("django_shipping_orders.tasks.refresh_order", order.pk)``.
"""

from __future__ import annotations

from typing import Any

from . import locks, refresh, schedules, services, sync
from .callbacks import process_pending
from .exceptions import LabelNotReady, ShippingOrdersError
from .models import Order, Source
from .redaction import get_logger

logger = get_logger("django_shipping_orders.tasks")

#: Failures kept in a task's result (the rest are on the orders' ``last_error``).
MAX_REPORTED_FAILURES = 20


def refresh_due_orders(
    account: str | None = None,
    limit: int | None = None,
    scheduled_for: str | None = None,
    minutes: int = 1,
) -> dict[str, Any]:
    """Refresh what is due now within the rate budget; a late or overlapping run does nothing."""
    if schedules.is_late(scheduled_for, minutes=minutes):
        logger.info("Skipped a refresh run meant for %s: it comes too late", scheduled_for)
        return {"skipped": f"late run (meant for {scheduled_for})"}
    with locks.overlap_guard(f"refresh_due:{account or '*'}") as acquired:
        if not acquired:
            logger.info("Skipped a refresh run: the previous one is still busy")
            return {"skipped": "another run is in progress"}
        summary = refresh.refresh_due(account=account, limit=limit)
    if summary.fetched or summary.failed:
        logger.info("Refreshed due shipping orders: %s", summary)
    return _result(summary)


def refresh_order(order_id: int) -> dict[str, Any]:
    """Refresh one order now (whether due or not), within the rate budget."""
    summary = refresh.refresh_orders([order_id], wait=True, workers=1, source=Source.REFRESH)
    return _result(summary)


def process_pending_callbacks(scheduled_for: str | None = None) -> dict[str, Any]:
    """Apply stored callbacks still waiting (deferred mode, or left by a dead worker).

    A late run is harmless (it only drains what is waiting), so ``scheduled_for``
    is accepted from the schedule and not checked.
    """
    return process_pending()


def download_label(order_id: int) -> str:
    """Download an order's label; failures are logged, and the next sync retries.

    A failure is not raised: a label that is not ready yet, or an expired URL,
    is retried when the order's next refresh brings label data again.
    """
    try:
        order = services.download_label(order_id)
    except Order.DoesNotExist:
        return f"order {order_id} no longer exists"
    except ShippingOrdersError as err:
        logger.warning("Label of order %s not stored: %s", order_id, err)
        if not isinstance(err, LabelNotReady):  # not a failure: the next sync tries again
            sync.record_label_failure(order_id, err)  # shown in the admin and the status
        return f"not stored: {err}"
    return f"stored {order.label.name}"


def download_labels(order_ids: list[int]) -> dict[str, int]:
    """Download the labels of several orders (queued once per refresh chunk); never raises.

    Each order is done as :func:`download_label` does it: one failure is
    recorded on its order and does not stop the others.
    """
    outcome = {"stored": 0, "not_stored": 0}
    for order_id in order_ids:
        result = download_label(order_id)
        outcome["stored" if result.startswith("stored") else "not_stored"] += 1
    return outcome


def _result(summary: refresh.RefreshSummary) -> dict[str, Any]:
    result = summary.as_dict()
    result["failures"] = result["failures"][:MAX_REPORTED_FAILURES]
    return result
