"""When an order is next due for a refresh: pure functions, no I/O.

The provider processes a new order in 1 s to 20 min and says not to poll
right away; after that nothing changes for hours until pickup, then the
parcel moves for a day or two. So: wait out a grace period, poll while the
provider processes with a growing (capped) interval, then poll rarely once
the label and courier tracking number are known, a little faster around
pickup and while the parcel is with the driver, and stop at a terminal state
or after a maximum age. A callback is news: it moves the next poll. Every
number is a setting under ``SHIPPING_ORDERS["REFRESH"]`` (see docs/refresh.md).
"""

from __future__ import annotations

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
    GRACE_PERIOD: float = 2 * MINUTE
    #: While processing: first interval, doubled each time, up to the cap.
    PROCESSING_INITIAL: float = 1 * MINUTE
    PROCESSING_MAX: float = 5 * MINUTE
    #: After a callback, the next poll is only a backstop for the next change.
    AFTER_CALLBACK: float = 6 * HOUR
    #: Label known, waiting for pickup.
    LABELLED_INTERVAL: float = 12 * HOUR
    #: Around pickup_at (from this long before to this long after) poll at PICKUP_INTERVAL.
    PICKUP_WINDOW: float = 1 * HOUR
    PICKUP_INTERVAL: float = 30 * MINUTE
    #: In transit, and with the driver (delivery is near).
    MOVING_INTERVAL: float = 12 * HOUR
    WITH_DRIVER_INTERVAL: float = 3 * HOUR
    #: A state we do not know: poll as if in transit.
    UNKNOWN_STATE_INTERVAL: float = 12 * HOUR
    #: Stop polling an order this old (since it was created here).
    MAX_AGE: float = 30 * 24 * HOUR
    #: After a failed refresh: first delay, doubled per consecutive failure, up to the cap.
    ERROR_INITIAL: float = 5 * MINUTE
    ERROR_MAX: float = 6 * HOUR
    #: How long a claimed order stays leased to one worker before another may take it.
    LEASE: float = 5 * MINUTE

    @classmethod
    def from_settings(cls, overrides: dict[str, Any]) -> PolicySettings:
        """Defaults overridden by the setting; unknown names and bad numbers are errors."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ShippingOrdersConfigurationError(
                f"SHIPPING_ORDERS['REFRESH'] has unknown key(s) {unknown}; known keys are {sorted(known)}."
            )
        values = {}
        for name, value in overrides.items():
            seconds = value.total_seconds() if isinstance(value, timedelta) else value
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                raise ShippingOrdersConfigurationError(
                    f"SHIPPING_ORDERS['REFRESH'][{name!r}] must be a number of seconds >= 0, got {value!r}."
                )
            values[name] = float(seconds)
        return cls(**values)


def current_policy() -> PolicySettings:
    """The policy as configured now."""
    from .conf import shipping_settings

    return PolicySettings.from_settings(shipping_settings.refresh)


class OrderLike(Protocol):
    state: str
    created_at: datetime | None
    pickup_at: datetime | None
    courier_job_id: str
    label_url: str
    refresh_failures: int


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

    ``source`` is what just happened: ``"place"``, ``"refresh"`` or ``"callback"``.
    """
    policy = policy or current_policy()
    if states.is_terminal(order.state):
        return None
    created = order.created_at or now
    if now - created >= _seconds(policy.MAX_AGE):
        return None

    canonical = states.canonical_state(order.state)
    allocated = bool(order.courier_job_id or order.label_url) or canonical not in states.PROCESSING_STATES
    if not allocated:
        if source == "callback":
            # A callback while processing is the news we wait for; the next
            # poll only backs it up.
            return now + _seconds(policy.PROCESSING_MAX)
        grace_end = created + _seconds(policy.GRACE_PERIOD)
        if now < grace_end:
            return grace_end
        # Doubling from the initial interval: the interval is about the time
        # already waited, so polls land at grace, +1, +2, +4 … minutes, capped.
        waited = (now - grace_end).total_seconds()
        interval = min(policy.PROCESSING_MAX, max(policy.PROCESSING_INITIAL, waited))
        return now + _seconds(interval)

    if canonical == "with_driver":
        interval = policy.WITH_DRIVER_INTERVAL
    elif canonical in states.MOVING_STATES:
        interval = policy.MOVING_INTERVAL
    elif states.state_rank(canonical) is None:
        interval = policy.UNKNOWN_STATE_INTERVAL
    else:
        interval = policy.LABELLED_INTERVAL
        pickup = order.pickup_at
        if pickup is not None:
            window = _seconds(policy.PICKUP_WINDOW)
            if now < pickup - window:
                # Sleep until the pickup window opens, unless that is later than usual.
                return min(pickup - window, now + _seconds(interval))
            if now <= pickup + window:
                interval = policy.PICKUP_INTERVAL
    if source == "callback":
        interval = max(interval, policy.AFTER_CALLBACK)
    return now + _seconds(interval)


def next_retry_after_error(
    order: OrderLike, *, now: datetime, policy: PolicySettings | None = None
) -> datetime:
    """When to try again after ``order.refresh_failures`` consecutive failures."""
    policy = policy or current_policy()
    failures = max(1, order.refresh_failures)
    delay = min(policy.ERROR_MAX, policy.ERROR_INITIAL * (2 ** (failures - 1)))
    return now + _seconds(delay)
