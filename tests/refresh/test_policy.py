"""The refresh policy as pure functions: when each poll of an order's life falls."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from django.test import override_settings

from django_shipping_orders.exceptions import ShippingOrdersConfigurationError
from django_shipping_orders.policy import (
    PolicySettings,
    current_policy,
    next_refresh_at,
    next_retry_after_error,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
P = PolicySettings()
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


@dataclass
class FakeOrder:
    state: str = "processing"
    created_at: datetime | None = T0
    pickup_at: datetime | None = None
    courier_job_id: str = ""
    label_url: str = ""
    refresh_failures: int = 0


@dataclass
class Provider:
    """What the provider would answer at any time, for an order placed at T0."""

    processed: timedelta = 7 * MIN
    pickup_after: timedelta = 3 * HOUR
    transit: timedelta = 24 * HOUR
    with_driver: timedelta = 4 * HOUR

    def at(self, when: datetime) -> FakeOrder:
        processed = T0 + self.processed
        pickup = processed + self.pickup_after
        steps = [
            (processed, "order_placed"),
            (processed + HOUR, "ready_for_pickup"),
            (pickup, "in_transit"),
            (pickup + self.transit, "with_driver"),
            (pickup + self.transit + self.with_driver, "completed"),
        ]
        order = FakeOrder()
        for moment, state in steps:
            if when >= moment:
                order.state = state
                order.courier_job_id = "CPAVZUZ0000001"
                order.pickup_at = pickup
        return order


def polls_until_stopped(
    provider: Provider, limit: int = 200, policy: PolicySettings = P
) -> list[tuple[datetime, str]]:
    """Follow the policy with polls only (every callback lost): (poll time, state seen)."""
    polls = []
    when = next_refresh_at(FakeOrder(), now=T0, source="place", policy=policy)
    while when is not None and len(polls) < limit:
        seen = provider.at(when)
        polls.append((when, seen.state))
        when = next_refresh_at(seen, now=when, policy=policy)
    return polls


def test_no_poll_during_the_grace_period_after_placing():
    first = next_refresh_at(FakeOrder(), now=T0, source="place", policy=P)
    assert first == T0 + timedelta(seconds=P.GRACE_PERIOD)


def test_by_default_processing_is_polled_every_5_minutes_from_5_minutes_after_placing():
    polls = polls_until_stopped(Provider(processed=40 * MIN))
    processing = [when - T0 for when, state in polls if state == "processing"]
    assert processing[:4] == [5 * MIN, 10 * MIN, 15 * MIN, 20 * MIN]
    assert {b - a for a, b in itertools.pairwise(processing)} == {5 * MIN}


@pytest.mark.parametrize("processed", [s * 30 for s in range(1, 41)])
def test_a_label_is_seen_at_most_5_minutes_late_with_at_most_4_polls_in_20_minutes(processed):
    polls = polls_until_stopped(Provider(processed=timedelta(seconds=processed)))
    labelled_at = next(when for when, state in polls if state != "processing")
    assert labelled_at - (T0 + timedelta(seconds=processed)) <= 5 * MIN
    assert sum(1 for when, _ in polls if when <= labelled_at) <= 4


def test_polls_back_off_while_processing_and_never_exceed_the_cap():
    backing_off = PolicySettings(GRACE_PERIOD=240, PROCESSING_INITIAL=180, PROCESSING_MAX=300)
    polls = polls_until_stopped(Provider(processed=40 * MIN), policy=backing_off)
    processing = [when for when, state in polls if state == "processing"]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(processing)]
    assert gaps == sorted(gaps), "intervals grow while the provider processes"
    assert gaps[0] == backing_off.PROCESSING_INITIAL
    assert max(gaps) == backing_off.PROCESSING_MAX
    assert (processing[0] - T0).total_seconds() == backing_off.GRACE_PERIOD


def test_schedule_of_polls_from_placing_to_delivery_without_any_callback():
    polls = polls_until_stopped(Provider(processed=7 * MIN))
    states_seen = [state for _, state in polls]
    # The label shows up at most PROCESSING_MAX after processing ended.
    labelled_at = next(when for when, state in polls if state != "processing")
    assert labelled_at - (T0 + 7 * MIN) <= timedelta(seconds=P.PROCESSING_MAX)
    # Looked again just after the pickup time, and saw the parcel move.
    pickup = T0 + 7 * MIN + 3 * HOUR
    assert (pickup + timedelta(seconds=P.PICKUP_INTERVAL), "in_transit") in polls
    assert "with_driver" in states_seen
    # Polling stopped at delivery, and the whole life cost few calls.
    assert states_seen[-1] == "completed"
    assert len(polls) <= 12


def test_polls_with_the_driver_come_faster_than_in_transit():
    in_transit = FakeOrder(state="in_transit", courier_job_id="X")
    with_driver = FakeOrder(state="with_driver", courier_job_id="X")
    assert next_refresh_at(with_driver, now=T0 + HOUR, policy=P) < next_refresh_at(
        in_transit, now=T0 + HOUR, policy=P
    )


def test_a_callback_moves_the_next_poll_later_once_labelled():
    order = FakeOrder(state="in_transit", courier_job_id="X")
    after_poll = next_refresh_at(order, now=T0 + HOUR, source="refresh", policy=P)
    order.state = "with_driver"
    after_callback = next_refresh_at(order, now=T0 + HOUR, source="callback", policy=P)
    assert after_callback == T0 + HOUR + timedelta(
        seconds=max(P.WITH_DRIVER_INTERVAL, P.AFTER_CALLBACK)
    )
    assert after_poll == T0 + HOUR + timedelta(seconds=P.MOVING_INTERVAL)


def test_a_callback_during_processing_replaces_the_fast_polls():
    order = FakeOrder(state="processing")
    now = T0 + 6 * MIN
    assert next_refresh_at(order, now=now, source="callback", policy=P) == now + timedelta(
        seconds=P.PROCESSING_MAX
    )


def test_a_callback_does_not_postpone_the_look_after_pickup():
    pickup = T0 + 3 * HOUR
    order = FakeOrder(state="ready_for_pickup", courier_job_id="X", pickup_at=pickup)
    when = next_refresh_at(order, now=T0 + HOUR, source="callback", policy=P)
    assert when == pickup + timedelta(seconds=P.PICKUP_INTERVAL)


@pytest.mark.parametrize(
    "state", ["completed", "cancelled", "untrackable", "invalidated", "Completed"]
)
def test_terminal_states_stop_polling(state):
    order = FakeOrder(state=state, courier_job_id="X")
    assert next_refresh_at(order, now=T0 + HOUR, policy=P) is None
    assert next_refresh_at(order, now=T0 + HOUR, source="callback", policy=P) is None


def test_polling_stops_after_the_maximum_age():
    order = FakeOrder(state="in_transit", courier_job_id="X")
    old = T0 + timedelta(seconds=P.MAX_AGE)
    assert next_refresh_at(order, now=old - MIN, policy=P) is not None
    assert next_refresh_at(order, now=old, policy=P) is None


def test_an_order_stuck_in_processing_is_polled_slowly():
    order = FakeOrder(state="processing")
    late = T0 + timedelta(seconds=P.PROCESSING_PATIENCE) + MIN
    assert next_refresh_at(order, now=late, policy=P) == late + timedelta(
        seconds=P.PROCESSING_STUCK_INTERVAL
    )


def test_an_unknown_state_keeps_being_polled():
    order = FakeOrder(state="teleported", courier_job_id="X")
    assert next_refresh_at(order, now=T0, policy=P) == T0 + timedelta(
        seconds=P.UNKNOWN_STATE_INTERVAL
    )


def test_failures_back_off_exponentially_up_to_the_cap():
    delays = []
    for failures in range(1, 12):
        order = FakeOrder(refresh_failures=failures)
        delays.append((next_retry_after_error(order, now=T0, policy=P) - T0).total_seconds())
    assert delays[:3] == [P.ERROR_INITIAL, 2 * P.ERROR_INITIAL, 4 * P.ERROR_INITIAL]
    assert delays == sorted(delays)
    assert delays[-1] == P.ERROR_MAX


def test_every_number_can_be_set_in_settings():
    with override_settings(
        SHIPPING_ORDERS={"REFRESH": {"GRACE_PERIOD": 30, "MOVING_INTERVAL": timedelta(hours=2)}}
    ):
        policy = current_policy()
    assert policy.GRACE_PERIOD == 30.0
    assert policy.MOVING_INTERVAL == 7200.0
    assert policy.PROCESSING_MAX == PolicySettings().PROCESSING_MAX


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"GRACE": 30}, "unknown key(s) ['GRACE']"),
        ({"GRACE_PERIOD": -1}, "'GRACE_PERIOD'] must be a number of seconds from 0 to"),
        ({"LEASE": "5m"}, "'LEASE'] must be a number of seconds from 0 to"),
    ],
)
def test_bad_policy_settings_name_the_key(overrides, message):
    with pytest.raises(ShippingOrdersConfigurationError) as err:
        PolicySettings.from_settings(overrides)
    assert message in str(err.value)


# -- a label known without a pickup time ------------------------------------------------------


def test_a_label_callback_without_pickup_time_brings_one_poll_soon():
    order = FakeOrder(state="order_placed", courier_job_id="CPA1")
    now = T0 + 20 * MIN
    assert next_refresh_at(order, now=now, source="callback", policy=P) == now + timedelta(
        seconds=P.LABEL_FOLLOW_UP
    )
    # That poll learns the pickup time: the next one is just after the pickup.
    order.pickup_at = now + 3 * HOUR
    polled = now + timedelta(seconds=P.LABEL_FOLLOW_UP)
    assert next_refresh_at(order, now=polled, source="refresh", policy=P) == (
        order.pickup_at + timedelta(seconds=P.PICKUP_INTERVAL)
    )


def test_the_follow_up_is_once_a_poll_without_pickup_time_waits_as_before():
    order = FakeOrder(state="order_placed", courier_job_id="CPA1")
    now = T0 + 30 * MIN
    after_poll = next_refresh_at(order, now=now, source="refresh", policy=P)
    assert after_poll == now + timedelta(seconds=P.LABELLED_INTERVAL)
    off = PolicySettings(LABEL_FOLLOW_UP=0)
    assert next_refresh_at(order, now=now, source="callback", policy=off) == now + timedelta(
        seconds=max(P.LABELLED_INTERVAL, P.AFTER_CALLBACK)
    )


def test_a_callback_with_the_pickup_time_known_needs_no_follow_up():
    order = FakeOrder(state="ready_for_pickup", courier_job_id="CPA1", pickup_at=T0 + 4 * HOUR)
    now = T0 + HOUR
    assert next_refresh_at(order, now=now, source="callback", policy=P) == (
        order.pickup_at + timedelta(seconds=P.PICKUP_INTERVAL)
    )


def test_a_callback_while_processing_never_brings_a_poll_inside_the_grace_period():
    from datetime import datetime, timedelta
    from datetime import timezone as dt_timezone

    from django_shipping_orders import policy as refresh_policy

    placed = datetime(2026, 3, 2, 9, 0, tzinfo=dt_timezone.utc)

    class Processing:
        state = "processing"
        created_at = placed
        pickup_at = None
        courier_job_id = ""
        label_url = ""
        refresh_failures = 0

    settings = refresh_policy.PolicySettings(GRACE_PERIOD=600)
    for seconds in (30, 240, 590):
        at = placed + timedelta(seconds=seconds)
        due = refresh_policy.next_refresh_at(
            Processing(), now=at, source="callback", policy=settings
        )
        assert due is not None and due >= placed + timedelta(seconds=600), seconds


def test_a_lease_too_short_to_hold_an_order_while_it_is_fetched_is_refused():
    from django_shipping_orders.exceptions import ShippingOrdersConfigurationError
    from django_shipping_orders.policy import PolicySettings

    with pytest.raises(ShippingOrdersConfigurationError, match=r"LEASE.*at least 30"):
        PolicySettings.from_settings({"LEASE": 0})
    assert PolicySettings.from_settings({"LEASE": 30}).LEASE == 30
