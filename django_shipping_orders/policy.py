"""When an order is next due for a refresh: pure functions, no I/O.

The provider processes a new order in 1 s to 20 min and says not to poll
right away; after that nothing changes for hours until pickup, then the
parcel moves for a day or two. So: wait out a grace period, poll while the
provider processes at an interval capped at a few minutes (the cap bounds how
late a label is noticed when its callback is lost; by default every 5 min,
evenly: a growing interval is a setting away), then poll
rarely once the label and courier tracking number are known: just after
``pickup_at`` (when a change is expected), every few hours while the parcel
is with the driver, every half day in transit. Stop at a terminal state or
after a maximum age. A callback is news: it moves the next poll, and while
callbacks arrive the polls only back them up. Every number is a setting under
``SHIPPING_ORDERS["REFRESH"]`` (see docs/refresh.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Protocol

from . import states
from .exceptions import ShippingOrdersConfigurationError

MINUTE = 60.0
HOUR = 3600.0


@dataclass(frozen=True)
class PolicySettings:
    """The numbers of the refresh policy, in seconds (``SHIPPING_ORDERS["REFRESH"]``)."""

    #: No poll this soon after placing: the provider needs time and asks us to wait.
    GRACE_PERIOD: float = 5 * MINUTE
    #: While processing: the first interval after the grace period; each next
    #: interval is the time already waited, up to PROCESSING_MAX. The cap is
    #: the longest a label can go unnoticed when its callback is lost. By
    #: default all three are 5 min: polls evenly at 5, 10, 15, 20 min, the
    #: fewest polls for which no label goes unnoticed longer than the cap.
    PROCESSING_INITIAL: float = 5 * MINUTE
    PROCESSING_MAX: float = 5 * MINUTE
    #: Still processing this long after placing: something is wrong at the
    #: provider; poll at PROCESSING_STUCK_INTERVAL instead.
    PROCESSING_PATIENCE: float = 1 * HOUR
    PROCESSING_STUCK_INTERVAL: float = 1 * HOUR
    #: After a callback, the next poll only backs up the next callback: never sooner than this.
    AFTER_CALLBACK: float = 6 * HOUR
    #: A callback brought the label but no pickup time (Shippit's never carry one): poll once
    #: this soon, since Get Order tells the pickup time and the polls around it follow.
    #: 0 turns this poll off.
    LABEL_FOLLOW_UP: float = 5 * MINUTE
    #: Label known, waiting for pickup.
    LABELLED_INTERVAL: float = 12 * HOUR
    #: From pickup_at until PICKUP_WINDOW after it, poll every PICKUP_INTERVAL
    #: (the first poll PICKUP_INTERVAL after pickup_at): the courier should collect now.
    PICKUP_WINDOW: float = 2 * HOUR
    PICKUP_INTERVAL: float = 30 * MINUTE
    #: In transit, and with the driver (delivery is near).
    MOVING_INTERVAL: float = 12 * HOUR
    WITH_DRIVER_INTERVAL: float = 3 * HOUR
    #: A state we do not know: poll as if in transit.
    UNKNOWN_STATE_INTERVAL: float = 12 * HOUR
    #: Stop polling an order this old (since it was created here).
    MAX_AGE: float = 30 * 24 * HOUR
    #: After a failed refresh: first delay, doubled per consecutive failure, up to the cap.
    #: 404 and 403 wait ERROR_MAX at once.
    ERROR_INITIAL: float = 5 * MINUTE
    ERROR_MAX: float = 6 * HOUR
    #: How long a claimed order stays leased to one worker before another may take it.
    LEASE: float = 5 * MINUTE
    #: When the budget cannot poll every due order, orders still processing (a label is
    #: promised within minutes) and the looks after a pickup go first, and the others (the
    #: backups of transit callbacks, hours apart) wait, but no longer than this: a poll late
    #: by this much is served in its turn (oldest due first) with the first ones, so no
    #: order waits forever. 0: every due order in its turn, processing or not.
    MAX_DEFERRAL: float = 6 * HOUR
    #: Spare budget: the share of each minute's rate limit that polls of orders not yet due
    #: may use (what the due orders left; 0 turns these polls off), and the least chance
    #: (0 to 1) that an order has changed since it was last seen for it to be polled so.
    SPARE_SHARE: float = 0.5
    SPARE_MIN_CHANCE: float = 0.75
    #: How long an order typically stays labelled (when no pickup time is known), in
    #: transit, and with the driver: the chance that it has moved on grows with its time
    #: in the state against these (see ``change_chance``).
    EXPECTED_LABELLED_STAY: float = 6 * HOUR
    EXPECTED_MOVING_STAY: float = 24 * HOUR
    EXPECTED_WITH_DRIVER_STAY: float = 4 * HOUR

    @classmethod
    def from_settings(cls, overrides: dict[str, Any]) -> PolicySettings:
        """Defaults overridden by the setting; unknown names and bad numbers are errors."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ShippingOrdersConfigurationError(
                f"SHIPPING_ORDERS['REFRESH'] has unknown key(s) {unknown}; "
                f"known keys are {sorted(known)}."
            )
        values = {name: _checked(name, value) for name, value in overrides.items()}
        return cls(**values)


def _checked(name: str, value: Any) -> float:
    """``value`` as a float, or an error naming the key when it cannot be what ``name`` needs.

    NaN, infinities and huge durations are refused here rather than failing later
    inside ``timedelta`` or a division, in the middle of a refresh or a callback.
    """
    key = f"SHIPPING_ORDERS['REFRESH'][{name!r}]"
    shown = _shown(value)
    number = value.total_seconds() if isinstance(value, timedelta) else value
    is_number = not isinstance(number, bool) and isinstance(number, int | float)
    if is_number and isinstance(number, int):
        # An int too large for a float (10**400) is out of range, not a crash in isfinite.
        number = float(number) if abs(number) <= MAX_DURATION else math.inf
    if name in _SHARES:
        if not is_number or not math.isfinite(number) or not 0 <= number <= 1:
            raise ShippingOrdersConfigurationError(
                f"{key} is a share: a number from 0 to 1, got {shown}."
            )
        return float(number)
    if not is_number or not math.isfinite(number) or not 0 <= number <= MAX_DURATION:
        raise ShippingOrdersConfigurationError(
            f"{key} must be a number of seconds from 0 to {MAX_DURATION:.0f} (365 days), "
            f"got {shown}."
        )
    if name in _STAYS and number < MIN_STAY:
        raise ShippingOrdersConfigurationError(
            f"{key} is the typical time in a state: at least {MIN_STAY:.0f} seconds, "
            f"got {value!r}. To turn spare polls off, set SPARE_SHARE to 0."
        )
    least = _AT_LEAST.get(name)
    if least is not None and number < least[0]:
        raise ShippingOrdersConfigurationError(
            f"{key} must be at least {least[0]:.0f} seconds ({least[1]}), got {value!r}."
        )
    return float(number)


def _shown(value: Any) -> str:
    """``repr(value)`` for an error message, short even for an integer of thousands of digits."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**30:
        return f"an integer of about {round(value.bit_length() * math.log10(2))} digits"
    return repr(value)


#: The longest duration any refresh setting may be: longer ones would overflow dates.
MAX_DURATION = 365 * 24 * HOUR
#: The shortest expected stay: shorter ones would make every order look certainly changed
#: (and a zero stay would divide by zero).
MIN_STAY = MINUTE
#: Expected stays, which the spare chance divides by.
_STAYS = frozenset({"EXPECTED_LABELLED_STAY", "EXPECTED_MOVING_STAY", "EXPECTED_WITH_DRIVER_STAY"})
#: Durations with a floor, and why: below it a promise breaks without an error.
_AT_LEAST: dict[str, tuple[float, str]] = {
    # A lease shorter than a chunk's fetch lets a second worker claim the same order.
    "LEASE": (30.0, "a shorter lease lets a second worker claim an order still being fetched"),
}
#: Settings that are a share (0 to 1), not seconds.
_SHARES = frozenset({"SPARE_SHARE", "SPARE_MIN_CHANCE"})


def current_policy() -> PolicySettings:
    """The policy as configured now."""
    from .conf import shipping_settings

    return PolicySettings.from_settings(shipping_settings.refresh)


class _Dated(Protocol):
    """The state and dates every rule of the policy reads; read-only, so an ``Order``
    (whose ``created_at`` is never None) or a test's stand-in fits."""

    @property
    def state(self) -> str: ...
    @property
    def created_at(self) -> datetime | None: ...
    @property
    def pickup_at(self) -> datetime | None: ...


class OrderLike(_Dated, Protocol):
    """What ``next_refresh_at`` reads of an order."""

    @property
    def courier_job_id(self) -> str: ...
    @property
    def label_url(self) -> str: ...
    @property
    def refresh_failures(self) -> int: ...


class SeenOrderLike(_Dated, Protocol):
    """What ``change_chance`` reads of an order."""

    @property
    def state_changed_at(self) -> datetime | None: ...
    @property
    def last_synced_at(self) -> datetime | None: ...


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def next_refresh_at(
    order: OrderLike,
    *,
    now: datetime,
    source: str = "refresh",
    policy: PolicySettings | None = None,
) -> datetime | None:
    """When ``order`` should next be fetched, or ``None`` to stop polling it.

    ``source`` is what just happened: ``"place"``, ``"refresh"``, ``"callback"``
    (or another :class:`~django_shipping_orders.models.Source`, read as a refresh).
    """
    policy = policy or current_policy()
    if states.is_final(order.state):
        return None
    created = order.created_at or now
    if now - created >= _seconds(policy.MAX_AGE):
        return None
    if not is_allocated(order):
        return _while_processing(order, now, created, source, policy)

    canonical = states.canonical_state(order.state)
    if canonical in states.NEAR_DELIVERY_STATES:
        interval = policy.WITH_DRIVER_INTERVAL
    elif canonical in states.MOVING_STATES:
        interval = policy.MOVING_INTERVAL
    elif not states.is_known(canonical):
        interval = policy.UNKNOWN_STATE_INTERVAL
    else:
        interval = policy.LABELLED_INTERVAL
        pickup = order.pickup_at
        if pickup is not None and now < pickup + _seconds(policy.PICKUP_WINDOW):
            # The pickup is the next thing expected to happen: look just after it
            # (a callback does not postpone that; it cannot tell of a future pickup).
            if now < pickup:
                return min(pickup + _seconds(policy.PICKUP_INTERVAL), now + _seconds(interval))
            return now + _seconds(policy.PICKUP_INTERVAL)
        if pickup is None and source == "callback" and policy.LABEL_FOLLOW_UP:
            # The label came by callback, which says nothing of the pickup: one Get Order
            # soon learns when it is, and the polls around it follow (the rule above).
            return now + _seconds(policy.LABEL_FOLLOW_UP)
    if source == "callback":
        interval = max(interval, policy.AFTER_CALLBACK)
    return now + _seconds(interval)


def is_allocated(order: OrderLike) -> bool:
    """True once the label or courier tracking number is known, or the state is past processing."""
    canonical = states.canonical_state(order.state)
    return (
        bool(order.courier_job_id or order.label_url) or canonical not in states.PROCESSING_STATES
    )


def _while_processing(
    order: OrderLike, now: datetime, created: datetime, source: str, policy: PolicySettings
) -> datetime:
    if now - created >= _seconds(policy.PROCESSING_PATIENCE):
        return now + _seconds(policy.PROCESSING_STUCK_INTERVAL)
    grace_end = created + _seconds(policy.GRACE_PERIOD)
    if source == "callback":
        # A callback while processing is news without the label: the next
        # poll only backs up the callback that will bring it (never within the grace).
        return max(grace_end, now + _seconds(policy.PROCESSING_MAX))
    if now < grace_end:
        return grace_end
    # The interval is about the time already waited, so polls land at grace,
    # +initial, then about doubling, capped at PROCESSING_MAX.
    waited = (now - grace_end).total_seconds()
    interval = min(policy.PROCESSING_MAX, max(policy.PROCESSING_INITIAL, waited))
    return now + _seconds(interval)


def next_retry_after_error(
    order: OrderLike, *, now: datetime, policy: PolicySettings | None = None
) -> datetime:
    """When to try again after ``order.refresh_failures`` consecutive failures."""
    policy = policy or current_policy()
    # The exponent is capped: past it the delay is ERROR_MAX anyway, and a huge power of 2
    # would not convert to a float.
    failures = min(max(1, order.refresh_failures), 64)
    delay = min(policy.ERROR_MAX, policy.ERROR_INITIAL * (2 ** (failures - 1)))
    # At least a second, even with ERROR_INITIAL 0: an order due again at the very instant
    # it failed would be claimed again by the same run, ahead of orders not yet tried.
    return now + _seconds(max(delay, 1.0))


def expected_stay(state: str, policy: PolicySettings) -> float | None:
    """How long an order typically stays in ``state``; None when spare polls leave it alone.

    Processing has its own close schedule, and a state the app does not know
    has no typical stay.
    """
    canonical = states.canonical_state(state)
    if canonical in states.PROCESSING_STATES or not states.is_known(canonical):
        return None
    if states.is_final(canonical):
        return None
    if canonical in states.NEAR_DELIVERY_STATES:
        return policy.EXPECTED_WITH_DRIVER_STAY
    if canonical in states.MOVING_STATES:
        return policy.EXPECTED_MOVING_STAY
    return policy.EXPECTED_LABELLED_STAY


def change_chance(order: SeenOrderLike, *, now: datetime, policy: PolicySettings) -> float:
    """The chance (0 to 1) that ``order``'s state has changed since it was last seen.

    The time an order stays in a state is modelled with a Weibull law of
    shape 2 whose mean is the state's expected stay: unlike a constant rate,
    the chance of moving on grows with the time already spent in the state
    (a parcel 20 h in transit is more likely to have arrived than one just
    picked up). Past twice the expected stay the rate stops growing, so an
    order stuck in a state is looked at now and then, not at every spare
    minute. A labelled order whose pickup is ahead has nothing to tell
    until then (the poll after ``pickup_at`` looks).
    """
    stay = expected_stay(order.state, policy)
    seen = order.last_synced_at
    if stay is None or seen is None or stay <= 0 or now <= seen:
        return 0.0
    canonical = states.canonical_state(order.state)
    labelled = canonical not in states.MOVING_STATES | states.NEAR_DELIVERY_STATES
    if labelled and order.pickup_at is not None and now < order.pickup_at:
        return 0.0
    entered = order.state_changed_at or order.created_at or seen
    if order.pickup_at is not None and labelled:
        entered = max(entered, order.pickup_at)  # the stay that matters starts at the pickup
    scale = stay / _WEIBULL_MEAN
    limit = 2 * stay

    def hazard(age: float) -> float:  # cumulative, capped growth past ``limit``
        if age <= limit:
            return (max(age, 0.0) / scale) ** 2
        return (limit / scale) ** 2 + 2 * limit * (age - limit) / scale**2

    gained = hazard((now - entered).total_seconds()) - hazard(
        max(0.0, (seen - entered).total_seconds())
    )
    return 1.0 - math.exp(-max(gained, 0.0))


def shortest_spare_gap(policy: PolicySettings) -> float:
    """Seconds since last seen below which no order can reach ``SPARE_MIN_CHANCE``.

    The chance grows fastest at the capped rate of the shortest expected
    stay; orders seen more recently need not be read at all.
    """
    stays = [
        stay
        for stay in (
            policy.EXPECTED_LABELLED_STAY,
            policy.EXPECTED_MOVING_STAY,
            policy.EXPECTED_WITH_DRIVER_STAY,
        )
        if stay > 0
    ]
    if not stays:
        return 0.0
    return spare_gap(min(stays), policy)


def spare_gap(stay: float, policy: PolicySettings) -> float:
    """Seconds since last seen below which an order in a state of typical ``stay``
    cannot reach ``SPARE_MIN_CHANCE`` (its chance grows at most at the capped rate)."""
    p = policy.SPARE_MIN_CHANCE
    if stay <= 0 or p <= 0:
        return 0.0
    fastest = 4 * stay / (stay / _WEIBULL_MEAN) ** 2  # d(hazard)/d(age) at twice the stay
    # The chance is 1 - exp(-g) in floating point: it rounds up near 1, and is 1.0 once
    # exp(-g) is below half an ulp of 1, whatever SPARE_MIN_CHANCE is. So the hazard
    # needed is capped below that point and given a margin: the bound may read a few
    # orders more, never leave out one whose chance reaches SPARE_MIN_CHANCE.
    needed = min(-math.log1p(-p) if p < 1 else math.inf, _HAZARD_ROUNDING_TO_ONE)
    return needed * (1 - 1e-9) / fastest


#: Below 2**-54 (a hazard above 37.4), 1 - exp(-hazard) is exactly 1.0 in a float.
_HAZARD_ROUNDING_TO_ONE = 37.0


#: The mean of a Weibull law of shape 2 and scale 1 (Gamma(1.5)).
_WEIBULL_MEAN = math.gamma(1.5)
