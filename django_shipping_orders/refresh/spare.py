"""The spare budget: which orders not yet due to poll with what the due ones left of the limit.

Polls on the policy's schedule use a small part of the rate limit; the rest
of each minute would go unused. Once the due orders are fetched, the engine
asks here for the open orders most likely to have changed since they were
last seen (``policy.change_chance``: by state and time in it), at least
``SPARE_MIN_CHANCE`` likely, most likely first, and fetches as many as the
budget still allows, keeping ``1 - SPARE_SHARE`` of the limit for
everything else the account sends (placing, labels, admin actions). The
requests take their slots from the shared limiter like any other, so the
limit is never exceeded; what the limiter refuses is simply not fetched.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from .. import states
from ..conf import AccountSettings
from ..models import Order
from ..policy import PolicySettings, change_chance, shortest_spare_gap, spare_gap
from ..ratelimit import default_limiter

#: What the chance is computed from, read for every open order not due.
_FIELDS = ("id", "state", "created_at", "pickup_at", "state_changed_at", "last_synced_at")


def spare_slots(account: AccountSettings, policy: PolicySettings) -> int:
    """Requests the spare polls of ``account`` may send now: what is left above the reserve."""
    if policy.SPARE_SHARE <= 0:
        return 0
    limit = account.rate_limit.requests  # per window, as the limiter counts
    reserve = limit - math.floor(limit * policy.SPARE_SHARE)
    return max(0, default_limiter().available(account) - reserve)


def pick(account: str, count: int, *, now: datetime, policy: PolicySettings) -> list[int]:
    """Up to ``count`` open orders of ``account``, not due, most likely changed first."""
    gap = shortest_spare_gap(policy)
    if count <= 0 or math.isinf(gap):
        return []
    candidates = (
        Order.objects.open()
        .filter(account=account, reference__isnull=False, next_refresh_at__gt=now)
        # Seen too recently to be likely enough, whatever the state: not read at all.
        .filter(last_synced_at__lte=now - timedelta(seconds=gap))
        .exclude(state__in=states.PROCESSING_STATES)
        .only(*_FIELDS)
        .order_by()
    )
    # The same bound per state (the chance grows no faster than the state's own capped
    # rate), and a labelled order whose pickup is ahead has no chance: exact filters that
    # keep, say, the day of in-transit orders polled in the last hours from being read.
    for names, stay in _groups(policy):
        seen_after = now - timedelta(seconds=min(spare_gap(stay, policy), _FAR))
        candidates = candidates.exclude(state__in=names, last_synced_at__gt=seen_after)
    candidates = candidates.exclude(state__in=_LABELLED, pickup_at__gt=now)
    scored = []
    for order in candidates.iterator(chunk_size=2000):
        chance = change_chance(order, now=now, policy=policy)
        if chance >= policy.SPARE_MIN_CHANCE and chance > 0:
            scored.append((-chance, order.pk))
    scored.sort()
    return [pk for _, pk in scored[:count]]


#: Known states by the stay the chance is computed from (as ``policy.expected_stay``).
_NEAR = frozenset(states.NEAR_DELIVERY_STATES)
_MOVING = frozenset(states.MOVING_STATES) - _NEAR
_LABELLED = states.LABELLED_STATES
#: A bound on the gap, so that ``now - gap`` stays a date.
_FAR = 365 * 24 * 3600.0


def _groups(policy: PolicySettings) -> list[tuple[frozenset[str], float]]:
    return [
        (_LABELLED, policy.EXPECTED_LABELLED_STAY),
        (_MOVING, policy.EXPECTED_MOVING_STAY),
        (_NEAR, policy.EXPECTED_WITH_DRIVER_STAY),
    ]
