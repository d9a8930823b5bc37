"""Everything the app asks of django-q2: the schedules, and one-off tasks queued by name.

The schedules (the refresh engine, the callback drain) are installed on demand
and never at import. One-off tasks (a label download, a callback drain) are
queued by their dotted path (:func:`enqueue`), so that the low modules that
queue them never import ``tasks``.

``install_schedules()`` (and the ``install_shipping_schedules`` command) create
or update the schedules by name, so running it on every deploy never adds a
second copy; copies left by hand are removed. Three guards keep a slow or a
late run from doubling the work:

- ``catch_up``: django-q2 1.11 has no per-schedule switch, only
  ``Q_CLUSTER["catch_up"]``. Our schedules therefore pass their intended time
  (``scheduled_for``) and the task drops a run that is more than one period
  late, whatever ``catch_up`` says.
- ``locks.overlap_guard``: a lock in the shared cache, so a run that starts
  while the previous one is still busy returns at once.
- leases on the orders themselves (see :mod:`.refresh`): even two runs at once
  never fetch one order twice.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.core.cache import caches
from django.db.models import Q
from django.utils import timezone

from .conf import shipping_settings
from .exceptions import LabelRefused
from .redaction import get_logger, scrub

logger = get_logger("django_shipping_orders.schedules")

#: Every schedule this app owns has a name starting with this.
NAME_PREFIX = "shipping_orders."
REFRESH_DUE_NAME = "shipping_orders.refresh_due"
REFRESH_DUE_FUNC = "django_shipping_orders.tasks.refresh_due_orders"
PENDING_CALLBACKS_NAME = "shipping_orders.process_pending_callbacks"
PENDING_CALLBACKS_FUNC = "django_shipping_orders.tasks.process_pending_callbacks"
#: The keyword argument through which django-q2 passes a run's intended time.
INTENDED_KWARG = "scheduled_for"


@dataclass(frozen=True)
class ScheduleSpec:
    """One schedule as it should be installed."""

    name: str
    func: str
    minutes: int
    kwargs: str = ""


def wanted_schedules(*, minutes: int = 1, per_account: bool = False) -> list[ScheduleSpec]:
    """The schedules to install: one for all accounts, or one per configured account."""
    if minutes < 1:
        raise ValueError("minutes must be 1 or more")
    # The task is told the period, so that it can tell a late run from a normal one.
    common = {"minutes": minutes} if minutes != 1 else {}
    # Callbacks left unprocessed (deferred mode, or a worker that died mid-way).
    callbacks = ScheduleSpec(PENDING_CALLBACKS_NAME, PENDING_CALLBACKS_FUNC, 1)
    if not per_account:
        return [
            ScheduleSpec(REFRESH_DUE_NAME, REFRESH_DUE_FUNC, minutes, _kwargs(common)),
            callbacks,
        ]
    return [
        callbacks,
        *[
            ScheduleSpec(
                f"{REFRESH_DUE_NAME}.{alias}",
                REFRESH_DUE_FUNC,
                minutes,
                _kwargs({"account": alias, **common}),
            )
            for alias in shipping_settings.account_aliases
        ],
    ]


def _kwargs(values: Mapping[str, object]) -> str:
    # django-q2 reads a schedule's kwargs with ast.literal_eval: a dict literal.
    return repr(values) if values else ""


def install_schedules(*, minutes: int = 1, per_account: bool = False) -> list[tuple[str, str]]:
    """Create or update the app's schedules; returns ``(name, what was done)`` pairs.

    Idempotent: schedules are matched by name, duplicates of a name are
    deleted, and schedules of ours that are no longer wanted are removed.
    """
    from django_q.models import Schedule

    done: list[tuple[str, str]] = []
    wanted = wanted_schedules(minutes=minutes, per_account=per_account)
    for spec in wanted:
        existing = list(Schedule.objects.filter(name=spec.name).order_by("pk"))
        for extra in existing[1:]:
            extra.delete()
        values = {
            "func": spec.func,
            "kwargs": spec.kwargs or None,
            "schedule_type": Schedule.MINUTES,
            "minutes": spec.minutes,
            "repeats": -1,
            "intended_date_kwarg": INTENDED_KWARG,
        }
        if not existing:
            Schedule.objects.create(name=spec.name, next_run=timezone.now(), **values)
            done.append((spec.name, "created"))
            continue
        schedule = existing[0]
        changed = [key for key, value in values.items() if getattr(schedule, key) != value]
        if changed:
            for key in changed:
                setattr(schedule, key, values[key])
            schedule.save(update_fields=changed)
            done.append((spec.name, f"updated ({', '.join(changed)})"))
        else:
            done.append((spec.name, "unchanged"))
    names = {spec.name for spec in wanted}
    for stale in Schedule.objects.filter(name__startswith=NAME_PREFIX).exclude(name__in=names):
        stale.delete()
        done.append((stale.name, "removed"))
    return done


def remove_schedules() -> list[str]:
    """Delete every schedule of this app; returns their names."""
    from django_q.models import Schedule

    schedules = list(Schedule.objects.filter(name__startswith=NAME_PREFIX))
    for schedule in schedules:
        schedule.delete()
    return [schedule.name for schedule in schedules]


def catch_up_enabled() -> bool:
    """Whether django-q2 replays missed runs (``Q_CLUSTER["catch_up"]``, on by default)."""
    from django_q.conf import Conf

    return bool(Conf.CATCH_UP)


def is_late(scheduled_for: str | datetime | None, *, minutes: int = 1) -> bool:
    """True when a run meant for ``scheduled_for`` comes more than one period late (a catch-up)."""
    if not scheduled_for:
        return False
    if isinstance(scheduled_for, str):
        try:
            scheduled_for = datetime.fromisoformat(scheduled_for)
        except ValueError:
            return False
    if timezone.is_naive(scheduled_for):
        scheduled_for = timezone.make_aware(scheduled_for, dt_timezone.utc)
    # One period, plus a minute for a busy broker: a normal run is never dropped.
    return timezone.now() - scheduled_for > timedelta(minutes=minutes + 1)


# -- queueing one-off tasks ------------------------------------------------------------------


def enqueue(func: str, *args: object, task_name: str) -> None:
    """Queue the django-q2 task ``func`` (a dotted path, so low modules need not import tasks)."""
    from django_q.tasks import async_task

    async_task(func, *args, task_name=task_name)


def enqueue_label_download(order_id: int) -> None:
    """Queue the download of order ``order_id``'s label (with the batch collecting here, if any)."""
    batch = _label_batch.get()
    if batch is not None:
        batch.add(order_id)
        return
    _mark_queued([order_id])
    try:
        enqueue(
            "django_shipping_orders.tasks.download_label",
            order_id,
            task_name=f"shipping-label-{order_id}",
        )
    except Exception:
        label_download_done(order_id)
        raise


#: How long a queued label download keeps the order's next refreshes from queueing it again:
#: a task still waiting in an async broker is not queued twice; a task lost on the way is
#: queued again by the first refresh after this.
LABEL_QUEUED_FOR = 15 * 60


def _queued_key(order_id: int) -> str:
    return f"shipping_orders:label-queued:{order_id}"


def _queued_cache() -> Any:
    # The rate limit's cache: the one the settings checks require to be shared by processes.
    return caches[shipping_settings.rate_limit_cache]


def _mark_queued(order_ids: list[int]) -> None:
    try:
        _queued_cache().set_many({_queued_key(i): 1 for i in order_ids}, LABEL_QUEUED_FOR)
    except Exception as err:  # without the mark a download may only be queued twice
        logger.warning(
            "Could not mark %d label downloads as queued: %s", len(order_ids), scrub(str(err))
        )


def label_download_done(order_id: int) -> None:
    """The queued download of ``order_id``'s label ran (stored or not): it may be queued again."""
    try:
        _queued_cache().delete(_queued_key(order_id))
    except Exception as err:
        logger.warning("Could not clear the queued mark of label %s: %s", order_id, scrub(str(err)))


def not_queued(order_ids: list[int]) -> list[int]:
    """Those of ``order_ids`` whose label download is not waiting in the broker already."""
    if not order_ids:
        return []
    try:
        marked = _queued_cache().get_many([_queued_key(i) for i in order_ids])
    except Exception:
        return order_ids  # queueing twice is harmless: a stored label stops the download
    return [i for i in order_ids if _queued_key(i) not in marked]


class LabelBatch:
    """Label downloads collected from many applied documents, queued as one task.

    A queued task is a row (ORM broker) or a message (Redis) of its own, and
    the ORM broker reconnects to the database for each one outside a
    transaction; a refresh that brings a thousand labels queues a few tasks
    instead of a thousand. Thread-safe: the engine's workers add, the thread
    that claims flushes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: list[int] = []

    def add(self, order_id: int) -> None:
        with self._lock:
            self._ids.append(order_id)

    def flush(self) -> int:
        """Queue one ``download_labels`` task for what was collected; returns how many orders.

        Never raises: when the broker refuses the task, the ids stay here for
        the next flush and the failure is logged; an order whose download was
        never queued is queued again by its next refresh (:func:`label_retry_wanted`).
        """
        with self._lock:
            ids = list(dict.fromkeys(self._ids))
        if not ids:
            return 0
        # Marked first: a synchronous broker runs the task (which clears its marks) at once.
        _mark_queued(ids)
        try:
            enqueue(
                "django_shipping_orders.tasks.download_labels",
                ids,
                task_name=f"shipping-labels-{ids[0]}-{len(ids)}",
            )
        except Exception as err:  # a broker outage must not stop the refresh that asked
            for order_id in ids:
                label_download_done(order_id)
            logger.warning(
                "Could not queue the label downloads of %d orders (%s: %s); kept for later",
                len(ids),
                type(err).__name__,
                scrub(str(err)),
            )
            return 0
        with self._lock:
            # Only what was queued: a worker may have added more meanwhile.
            queued = set(ids)
            self._ids = [order_id for order_id in self._ids if order_id not in queued]
        return len(ids)


_label_batch: ContextVar[LabelBatch | None] = ContextVar("shipping_label_batch", default=None)


@contextmanager
def collecting_labels(batch: LabelBatch) -> Iterator[LabelBatch]:
    """Within this block (this thread), label downloads go to ``batch`` instead of a task each.

    The downloads are queued after commit (``transaction.on_commit``), so the
    block must also hold the commit of the writes that ask for them.
    """
    token = _label_batch.set(batch)
    try:
        yield batch
    finally:
        _label_batch.reset(token)


def enqueue_callback_drain() -> None:
    """Queue one drain of the stored callbacks."""
    enqueue(
        "django_shipping_orders.tasks.process_pending_callbacks", task_name="shipping-callbacks"
    )


# -- label retries ---------------------------------------------------------------------------

#: Downloads tried for one label before it is given up (until someone downloads it by hand).
LABEL_ATTEMPTS = 5
_RETRY_PREFIX = "Label attempt "
_GIVEN_UP_PREFIX = "Label given up after "
_REFUSED_PREFIX = "Label refused, not retried: "


def label_failure_text(previous: str, error: Exception | str) -> str:
    """The ``label_error`` to store after a failed download, counting the attempts so far.

    The count lives in the text itself (``label_error`` is what the admin
    shows): "Label attempt 2 of 5 failed: ..." is retried by the order's next
    refresh, "Label given up after 5 attempts: ..." is not.
    """
    if isinstance(error, LabelRefused):
        # Retrying cannot help until the settings or the provider's answer change.
        return f"{_REFUSED_PREFIX}{error}"
    attempt = 1
    match = re.match(rf"{_RETRY_PREFIX}(\d+) of", previous)
    if match:
        attempt = int(match.group(1)) + 1
    if attempt >= LABEL_ATTEMPTS:
        return f"{_GIVEN_UP_PREFIX}{attempt} attempts: {error}"
    return (
        f"{_RETRY_PREFIX}{attempt} of {LABEL_ATTEMPTS} failed, retried at the next refresh: {error}"
    )


def label_retrying() -> Q:
    """Orders whose last label download failed with attempts left (a filter on ``Order``)."""
    return Q(label_error__startswith=_RETRY_PREFIX)


def label_retry_wanted() -> Q:
    """The orders whose label download a refresh queues again (a filter on ``Order``).

    A label URL or a courier tracking number (the provider's label endpoint
    then gives the URL), no stored label, and attempts left: a download that
    failed, was not ready yet, or was never queued (a broker outage), is tried
    again at the order's next poll, which the refresh policy spaces out.
    """
    return (
        Q(label="")
        & (~Q(label_url="") | ~Q(courier_job_id=""))
        & (Q(label_error="") | Q(label_error__startswith=_RETRY_PREFIX))
    )
