"""Which orders need a person now, and why: the clerk's "Needs attention" view.

Each reason is a database condition (for the filter and the counts) and the
same test on a loaded order (for the line under its state), so the list says
why each order is in it without a query per row. An order leaves the view by
itself once its cause is gone: a label arrives, a pickup happens, a refresh
succeeds. Placements that failed stay for ``RECENT_PLACEMENT`` only: the shop
places a new order, the failed row stays as a record.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _

from .. import states
from ..models import Order
from .display import humanize_state, local_time
from .listing import COUNTS_TTL, open_states

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

#: A label not stored this long after the order was placed is overdue.
LABEL_OVERDUE = timedelta(hours=2)
#: A pickup time this far in the past with the parcel still waiting is a missed pickup.
MISSED_PICKUP_GRACE = timedelta(hours=2)
#: Refreshes failing this many times in a row will not fix themselves.
FAILING_REFRESHES = 3
#: Placements that failed are shown this long (the shop places a new order meanwhile).
RECENT_PLACEMENT = timedelta(days=7)
COUNTS_CACHE_KEY = "shipping_orders:admin:attention_counts"


def person_states() -> frozenset[str]:
    """States the state table flags as needing a person."""
    return states.ATTENTION_STATES


@functools.cache
def waiting_for_pickup_states() -> frozenset[str]:
    """Known states before the courier has the parcel (placed, ready, awaiting collection …)."""
    moving = states.STATE_RANK.get("in_transit", 40)
    return (
        frozenset(
            state
            for state, rank in states.STATE_RANK.items()
            if rank < moving
            and state not in states.TERMINAL_STATES
            and state not in person_states()
        )
        - states.PROCESSING_STATES
    )


@dataclass(frozen=True)
class Reason:
    """One reason an order needs a person."""

    code: str
    title: StrOrPromise
    condition: Callable[[datetime], Q]
    applies: Callable[[Order, datetime], bool]
    explain: Callable[[Order, datetime], str]


def _meaning(state: str) -> str:
    """What the state table says a person should do about ``state``."""
    known = states.get(state)
    return str(known.meaning if known and known.meaning else _("the provider needs a decision"))


def _open(order: Order) -> bool:
    return not states.is_terminal(order.state)


def _open_q() -> Q:
    return Q(state__in=open_states())


Placement = Order.Placement

REASONS: tuple[Reason, ...] = (
    Reason(
        "rejected",
        _("Rejected by the provider"),
        lambda now: Q(placement=Placement.REJECTED, created_at__gte=now - RECENT_PLACEMENT),
        lambda o, now: o.placement == Placement.REJECTED and o.created_at >= now - RECENT_PLACEMENT,
        lambda o, now: (
            str(_("Rejected by the provider: %s")) % (o.last_error or _("no reason given"))
        ),
    ),
    Reason(
        "unknown",
        _("Placement outcome unknown"),
        lambda now: Q(placement=Placement.UNKNOWN, created_at__gte=now - RECENT_PLACEMENT),
        lambda o, now: o.placement == Placement.UNKNOWN and o.created_at >= now - RECENT_PLACEMENT,
        lambda o, now: (
            str(_("May or may not exist at the provider: check there (%s)"))
            % (o.last_error or _("no answer"))
        ),
    ),
    Reason(
        "needed",
        _("Provider reports a problem"),
        lambda now: Q(state__in=person_states()),
        lambda o, now: o.state in person_states(),
        lambda o, now: f"{humanize_state(o.state)}: {_meaning(o.state)}",
    ),
    Reason(
        "missed_pickup",
        _("Pickup missed"),
        lambda now: Q(
            state__in=waiting_for_pickup_states(), pickup_at__lt=now - MISSED_PICKUP_GRACE
        ),
        lambda o, now: (
            o.state in waiting_for_pickup_states()
            and o.pickup_at is not None
            and o.pickup_at < now - MISSED_PICKUP_GRACE
        ),
        lambda o, now: (
            str(_("Pickup was due %(when)s; still %(state)s"))
            % {
                "when": local_time(o.pickup_at, o.delivery_timezone, "D j M H:i T"),
                "state": humanize_state(o.state).lower(),
            }
        ),
    ),
    Reason(
        "label_failed",
        _("Label download failed"),
        lambda now: _open_q() & Q(label="") & ~Q(label_error=""),
        lambda o, now: _open(o) and not o.label and bool(o.label_error),
        lambda o, now: str(_("Label download failed: %s")) % o.label_error,
    ),
    Reason(
        "label_overdue",
        _("No label long after placing"),
        lambda now: (
            _open_q()
            & Q(
                label="",
                label_error="",
                reference__isnull=False,
                created_at__lt=now - LABEL_OVERDUE,
            )
            & ~Q(state__in=states.PROCESSING_STATES)
        ),
        lambda o, now: (
            _open(o)
            and not o.label
            and not o.label_error
            and bool(o.reference)
            and o.state not in states.PROCESSING_STATES
            and o.created_at < now - LABEL_OVERDUE
        ),
        lambda o, now: str(_("No label %s after placing")) % timesince(o.created_at, now, depth=1),
    ),
    Reason(
        "refresh_failing",
        _("Refreshes failing"),
        lambda now: _open_q() & Q(refresh_failures__gte=FAILING_REFRESHES),
        lambda o, now: _open(o) and o.refresh_failures >= FAILING_REFRESHES,
        lambda o, now: (
            str(_("%(count)d refreshes failed: %(error)s"))
            % {"count": o.refresh_failures, "error": o.last_error}
        ),
    ),
)
BY_CODE = {reason.code: reason for reason in REASONS}


def condition(now: datetime | None = None, codes: list[str] | None = None) -> Q:
    """Orders with any of the reasons ``codes`` (all reasons by default)."""
    now = now or timezone.now()
    wanted = [BY_CODE[code] for code in codes] if codes else list(REASONS)
    combined = Q(pk__in=[])
    for reason in wanted:
        combined |= reason.condition(now)
    return combined


def needing_attention(queryset: QuerySet[Order], now: datetime | None = None) -> QuerySet[Order]:
    """``queryset`` narrowed to the orders that need a person."""
    return queryset.filter(condition(now))


def reasons_for(order: Order, now: datetime | None = None) -> list[str]:
    """Why ``order`` needs a person, one line per reason (none when it does not)."""
    now = now or timezone.now()
    return [reason.explain(order, now) for reason in REASONS if reason.applies(order, now)]


def counts(*, fresh: bool = False) -> dict[str, int]:
    """Orders needing attention per reason and in all (``"total"``), kept ``COUNTS_TTL`` s.

    One query over the orders that match any reason.
    """
    cached = None if fresh else cache.get(COUNTS_CACHE_KEY)
    if cached is not None:
        return dict(cached)
    now = timezone.now()
    # Aliases of their own: an aggregate named like a field ("state") would shadow it.
    aggregates = {
        f"n_{reason.code}": Count("pk", filter=reason.condition(now)) for reason in REASONS
    }
    found = Order.objects.filter(condition(now)).aggregate(n_total=Count("pk"), **aggregates)
    result = {key.removeprefix("n_"): int(value or 0) for key, value in found.items()}
    cache.set(COUNTS_CACHE_KEY, result, COUNTS_TTL)
    return result
