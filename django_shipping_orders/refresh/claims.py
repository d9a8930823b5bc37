"""Which orders are due, and leasing them to one worker at a time.

Claiming is a short transaction that takes the oldest due rows with
``SELECT … FOR UPDATE SKIP LOCKED`` and stamps them with a lease
(``lease_expires_at``), then commits: no row lock is held during an HTTP
call, and a worker on another machine skips both the locked rows and the
leased ones. The lease is given back as soon as the order is done; if the
worker dies instead, the lease simply expires (``REFRESH["LEASE"]``) and the
order is due again. The stamp is conditional (``… WHERE lease is free``), so
even a database without ``SKIP LOCKED`` (SQLite) never hands one order to two
workers.

When the budget cannot poll every due order, the order they are claimed in
decides who waits: :func:`claim_due` takes first the orders still processing
(a label is promised within minutes of being made), the labelled orders
whose pickup time has passed (the look that notices a lost pickup callback)
and those already late by ``REFRESH["MAX_DEFERRAL"]``, then the rest (the
backups of transit callbacks, hours apart), each part oldest due first
(:func:`served_first`). Both parts are read in the order of the
``(account, next_refresh_at)`` index.
"""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from .. import policy, states
from ..documents import DERIVED_FIELDS
from ..models import Order

#: What the workers need of an order: to fetch it, to tell an unchanged answer, and to
#: compute its next poll; ``apply_document`` loads the rest when something changed.
_CLAIM_FIELDS = (
    "id",
    "account",
    "reference",
    "state",
    "lease_expires_at",
    "refresh_failures",
    "raw",
    "updated_at",
    "created_at",
    "pickup_at",
    "courier_job_id",
    "label_url",
    "next_refresh_at",
    *sorted(DERIVED_FIELDS),
)


def _free(now: datetime) -> Q:
    return Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now)


def due_orders(account: str | None = None, *, now: datetime | None = None) -> QuerySet[Order]:
    """Orders due for a refresh now and not leased, oldest due first (configured accounts only)."""
    return Order.objects.due(account, now=now)


def served_first(now: datetime, policy_settings: policy.PolicySettings) -> Q:
    """The due orders polled before the others when the budget is short.

    Those still processing (no label, no courier tracking number: the label
    must be noticed within ``PROCESSING_MAX`` of being made; the same test
    as ``policy.is_allocated``, in SQL), the labelled ones whose pickup time
    passed within ``PICKUP_WINDOW`` + ``PICKUP_INTERVAL`` (polled
    ``PICKUP_INTERVAL`` after it, to notice a lost pickup callback within the
    hour), and any order whose poll is already
    ``MAX_DEFERRAL`` late, so the others (in transit, with the driver, a
    labelled order waiting for a pickup ahead) are put behind them for that
    long at most, never for ever.
    """
    processing = Q(state__in=states.PROCESSING_STATES, courier_job_id="", label_url="")
    # The look after a pickup: a lost pickup callback is noticed at this poll or hours later.
    # (A label known while the state still says processing is labelled too: policy.is_allocated.)
    # Only around the pickup (PICKUP_WINDOW, as the policy polls it): a pickup days past that
    # never happened is polled every LABELLED_INTERVAL with the rest.
    window = timedelta(seconds=policy_settings.PICKUP_WINDOW + policy_settings.PICKUP_INTERVAL)
    pickup_look = Q(
        state__in=states.LABELLED_STATES | states.PROCESSING_STATES,
        pickup_at__lte=now,
        pickup_at__gte=now - window,
    )
    late = Q(next_refresh_at__lte=now - timedelta(seconds=policy_settings.MAX_DEFERRAL))
    return processing | pickup_look | late


def claim_due(
    queryset: QuerySet[Order],
    *,
    limit: int,
    now: datetime | None = None,
    policy_settings: policy.PolicySettings | None = None,
    others_first: QuerySet[Order] | None = None,
) -> list[Order]:
    """Lease up to ``limit`` due orders of ``queryset``, :func:`served_first` ones first.

    Two claims, each oldest due first: a short budget is spent on processing
    polls, looks after a pickup and polls late by ``MAX_DEFERRAL`` before the
    rest (transit, with the driver, a pickup ahead), whose promise has hours
    of room.

    ``others_first``: the due orders leased by other runs (:func:`held_elsewhere`).
    While one of them is of the first part, this run does not start on the
    rest: its requests would take the budget the other run's first part waits for.
    """
    now = now or timezone.now()
    policy_settings = policy_settings or policy.current_policy()
    urgent = served_first(now, policy_settings)
    first = claim(queryset.filter(urgent), limit=limit, now=now)
    if len(first) >= limit:
        return first
    if others_first is not None and others_first.filter(urgent).exists():
        return first
    # The first part's rows are leased now, so the second claim cannot take them again.
    return first + claim(queryset, limit=limit - len(first), now=now)


def held_elsewhere(
    account: str | None, own: Iterable[datetime], *, now: datetime | None = None
) -> QuerySet[Order]:
    """The orders due now that another run holds: leased, by a lease that is not in ``own``."""
    now = now or timezone.now()
    return (
        Order.objects.due_leased_or_not(account, now=now)
        .filter(lease_expires_at__gt=now)
        .exclude(lease_expires_at__in=list(own))
    )


def in_turn(
    queryset: QuerySet[Order],
    count: int,
    *,
    now: datetime | None = None,
    policy_settings: policy.PolicySettings | None = None,
) -> list[Order]:
    """The first ``count`` orders of ``queryset`` in the order :func:`claim_due` takes them
    (read only, nothing leased: what ``--dry-run`` lists)."""
    now = now or timezone.now()
    policy_settings = policy_settings or policy.current_policy()
    urgent = served_first(now, policy_settings)
    first = list(queryset.filter(urgent)[:count])
    return first + list(queryset.exclude(urgent)[: count - len(first)])


_SQLITE_WRITE_LOCK = threading.RLock()


def _writes() -> AbstractContextManager[object]:
    """A lock the engine's threads take around database writes, on SQLite only.

    Without ``"transaction_mode": "IMMEDIATE"`` (Django 5.1+) SQLite fails a
    second writer at once ("database is locked") instead of waiting for the
    first, so there the threads take turns; everywhere else this is a no-op.
    """
    if (
        connection.vendor == "sqlite"
        and connection.settings_dict.get("OPTIONS", {}).get("transaction_mode") != "IMMEDIATE"
    ):
        return _SQLITE_WRITE_LOCK
    return nullcontext()


def claim(queryset: QuerySet[Order], *, limit: int, now: datetime | None = None) -> list[Order]:
    """Lease up to ``limit`` orders of ``queryset`` to this worker; returns the ones it got.

    The transaction only selects and stamps rows; it commits before any
    HTTP call is made.
    """
    now = now or timezone.now()
    lease = policy.current_policy().LEASE
    # A distinct stamp per claim, so the worker can tell its rows from another's.
    token = now + timedelta(seconds=lease, microseconds=random.randrange(1, 1_000_000))
    ordering = queryset.query.order_by or ("next_refresh_at", "pk")
    with _writes(), transaction.atomic():
        candidates = queryset.filter(_free(now)).order_by(*ordering)
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        ids = list(candidates.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        Order.objects.filter(pk__in=ids).filter(_free(now)).update(lease_expires_at=token)
    claimed = (
        Order.objects.filter(pk__in=ids, lease_expires_at=token).only(*_CLAIM_FIELDS).order_by()
    )
    return sorted(claimed, key=lambda order: ids.index(order.pk))


def release(orders: Iterable[Order]) -> None:
    """Give back the leases of ``orders`` (only those still ours)."""
    by_token: dict[datetime, list[int]] = defaultdict(list)
    for order in orders:
        if order.lease_expires_at is not None:
            by_token[order.lease_expires_at].append(order.pk)
    for token, ids in by_token.items():
        with _writes():
            Order.objects.filter(pk__in=ids, lease_expires_at=token).update(lease_expires_at=None)
