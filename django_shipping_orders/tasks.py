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
from .redaction import get_logger, scrub

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
    """Download an order's label; never raises: a failure is logged and noted on the order.

    A label that is not ready yet is not a failure (the next sync tries again).
    Any other failure, a transport fault while reading included, is stored in
    ``label_error`` with the attempts so far; the order's next refresh tries
    again until ``schedules.LABEL_ATTEMPTS`` (see ``schedules.label_retry_wanted``).
    """
    try:
        return _download_label(order_id)
    finally:
        schedules.label_download_done(order_id)


def _download_label(order_id: int) -> str:
    try:
        order = services.download_label(order_id)
    except Order.DoesNotExist:
        return f"order {order_id} no longer exists"
    except LabelNotReady as err:  # not a failure: the next sync tries again
        logger.info("Label of order %s not ready: %s", order_id, err)
        return f"not stored: {err}"
    except Exception as err:  # one order's failure must not stop the batch
        if not isinstance(err, ShippingOrdersError):
            logger.error(
                "Downloading the label of order %s failed unexpectedly", order_id, exc_info=err
            )
            err = ShippingOrdersError(scrub(f"{type(err).__name__}: {err}"))
        logger.warning("Label of order %s not stored: %s", order_id, err)
        _record_label_failure(order_id, err)
        return f"not stored: {err}"
    return f"stored {order.label.name}"


def _record_label_failure(order_id: int, err: Exception) -> None:
    # Shown in the admin and the status; counts the attempts for the retry rule.
    try:
        previous = (
            Order.objects.filter(pk=order_id).values_list("label_error", flat=True).first() or ""
        )
        sync.record_label_failure(order_id, schedules.label_failure_text(previous, err))
    except Exception:  # the database may be what failed
        logger.exception("Could not record the label failure of order %s", order_id)


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
