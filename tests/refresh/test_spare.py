"""The spare budget: polls of orders not yet due, the likeliest changed first, never above the limit.

Measured where the provider counts: the sandbox's arrival meter (see
test_provider_meter.py), with the account's limit and the sandbox's the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.core.cache import caches
from django.test import override_settings
from django.utils import timezone

from django_shipping_orders import refresh
from django_shipping_orders.models import Order
from django_shipping_orders.policy import (
    PolicySettings,
    change_chance,
    shortest_spare_gap,
    spare_gap,
)

from .conftest import sandbox_accounts
from .test_engine import get_calls, place

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=dt_timezone.utc)
HOUR = timedelta(hours=1)
P = PolicySettings()


@dataclass
class Seen:
    state: str
    state_changed_at: datetime | None
    last_synced_at: datetime | None
    created_at: datetime | None = T0
    pickup_at: datetime | None = None


# -- the chance, a pure function -----------------------------------------------------------


def test_the_chance_grows_with_the_time_in_the_state():
    now = T0 + 30 * HOUR
    fresh = Seen("in_transit", state_changed_at=now - 2 * HOUR, last_synced_at=now - 2 * HOUR)
    older = Seen("in_transit", state_changed_at=now - 22 * HOUR, last_synced_at=now - 2 * HOUR)
    chances = [change_chance(o, now=now, policy=P) for o in (fresh, older)]
    assert 0 < chances[0] < chances[1] < 1


def test_a_short_stay_state_is_likelier_to_have_moved_on():
    now = T0 + 30 * HOUR
    transit = Seen("in_transit", state_changed_at=now - 3 * HOUR, last_synced_at=now - 3 * HOUR)
    driver = Seen("with_driver", state_changed_at=now - 3 * HOUR, last_synced_at=now - 3 * HOUR)
    assert change_chance(driver, now=now, policy=P) > change_chance(transit, now=now, policy=P)


def test_nothing_to_learn_from_processing_final_unknown_or_a_pickup_ahead():
    now = T0 + 10 * HOUR
    for order in (
        Seen("processing", state_changed_at=T0, last_synced_at=T0),
        Seen("completed", state_changed_at=T0, last_synced_at=T0),
        Seen("a_state_nobody_knows", state_changed_at=T0, last_synced_at=T0),
        Seen("ready_for_pickup", T0, T0, pickup_at=now + HOUR),
        Seen("in_transit", state_changed_at=T0, last_synced_at=now),  # just seen
    ):
        assert change_chance(order, now=now, policy=P) == 0.0, order.state


def test_a_stuck_order_is_not_looked_at_every_minute():
    # Ten expected stays in transit: the chance still needs time since the last look.
    entered = T0
    now = T0 + 240 * HOUR
    just_seen = Seen("in_transit", entered, last_synced_at=now - timedelta(minutes=5))
    long_ago = Seen("in_transit", entered, last_synced_at=now - 12 * HOUR)
    assert change_chance(just_seen, now=now, policy=P) < P.SPARE_MIN_CHANCE
    assert change_chance(long_ago, now=now, policy=P) >= P.SPARE_MIN_CHANCE


def test_shares_above_one_are_refused():
    from django_shipping_orders.exceptions import ShippingOrdersConfigurationError

    with pytest.raises(ShippingOrdersConfigurationError, match="SPARE_SHARE"):
        PolicySettings.from_settings({"SPARE_SHARE": 1.5})
    assert PolicySettings.from_settings({"SPARE_MIN_CHANCE": 0.3}).SPARE_MIN_CHANCE == 0.3


# -- the engine at the sandbox's meter ------------------------------------------------------

LIMIT, WINDOW = 6, 60


@pytest.mark.django_db(transaction=True)
def test_spare_polls_take_the_likeliest_first_and_never_pass_the_limit(sandbox, sandbox_settings):
    orders = place(10)
    now = timezone.now()
    # None is due; each has been in transit for a different time, seen on entering it.
    for hours, order in enumerate(orders):
        Order.objects.filter(pk=order.pk).update(
            state="in_transit",
            courier_job_id="CPA1",
            state_changed_at=now - timedelta(hours=2 + 2 * hours),
            last_synced_at=now - timedelta(hours=2 + 2 * hours),
            next_refresh_at=now + 6 * HOUR,
        )
    sandbox.set_faults(rate_limit=LIMIT, rate_window=WINDOW, rate_clock="real")
    sandbox.reset_stats()
    caches["default"].clear()
    accounts = sandbox_accounts(sandbox.shippit_url, RATE_LIMIT=f"{LIMIT}/{WINDOW}s")
    accounts["REFRESH"] = {"SPARE_SHARE": 1.0, "SPARE_MIN_CHANCE": 0.1}
    with override_settings(SHIPPING_ORDERS=accounts):
        summary = refresh.refresh_due()
    meter = sandbox.stats()["meter"]
    key = next(iter(meter["requests"]))
    assert meter["requests"][key] == LIMIT, "the spare budget is spent, and no more"
    assert meter["busiest"][key] <= LIMIT and meter["refused"].get(key, 0) == 0
    assert (summary.spare, summary.fetched) == (LIMIT, LIMIT)
    polled = [get_calls(sandbox, o.reference) > 0 for o in orders]
    # The longest in transit are the likeliest to have moved on: they are the ones polled.
    assert polled == [False] * (10 - LIMIT) + [True] * LIMIT


@pytest.mark.django_db(transaction=True)
def test_a_spare_poll_that_finds_nothing_keeps_the_next_poll(sandbox, sandbox_settings):
    orders = place(2)
    sandbox.advance(30 * 60)
    refresh.refresh_orders([o.pk for o in orders])  # mirrored: label, pickup time
    planned = {o.pk: Order.objects.get(pk=o.pk).next_refresh_at for o in orders}
    Order.objects.filter(pk__in=planned).update(last_synced_at=timezone.now() - 10 * HOUR)
    settings = {**sandbox_settings, "REFRESH": {"SPARE_MIN_CHANCE": 0.01}}
    with override_settings(SHIPPING_ORDERS=settings):
        summary = refresh.refresh_due()
    assert summary.spare == 0, "a labelled order waits for its pickup: nothing to learn before"
    # The pickup was hours ago (the window of polls around it is over).
    Order.objects.filter(pk__in=planned).update(
        pickup_at=timezone.now() - 5 * HOUR, state_changed_at=timezone.now() - 6 * HOUR
    )
    with override_settings(SHIPPING_ORDERS=settings):
        summary = refresh.refresh_due()
    assert (summary.spare, summary.unchanged) == (2, 2)
    for order in orders:
        assert Order.objects.get(pk=order.pk).next_refresh_at == planned[order.pk]


@pytest.mark.django_db(transaction=True)
def test_an_order_finished_after_it_was_picked_is_not_polled(
    sandbox, sandbox_settings, monkeypatch
):
    from django_shipping_orders.refresh import spare

    orders = place(2)
    finished, going = orders
    Order.objects.filter(pk=finished.pk).update(state="completed")  # a callback, meanwhile

    def pick(alias, slots, *, now, policy):
        return [finished.pk, going.pk]  # as picked before the callback landed

    monkeypatch.setattr(spare, "pick", pick)
    before = {o.reference: get_calls(sandbox, o.reference) for o in orders}
    summary = refresh.refresh_due()
    assert summary.fetched == 1
    assert get_calls(sandbox, finished.reference) == before[finished.reference]
    assert get_calls(sandbox, going.reference) == before[going.reference] + 1
    assert Order.objects.get(pk=finished.pk).state == "completed"


@pytest.mark.django_db(transaction=True)
def test_a_spare_poll_that_fails_never_brings_the_next_poll_forward(sandbox, sandbox_settings):
    (order,) = place(1)
    now = timezone.now()
    planned = now + 5 * HOUR
    Order.objects.filter(pk=order.pk).update(
        state="in_transit",
        courier_job_id="CPA1",
        state_changed_at=now - 30 * HOUR,
        last_synced_at=now - 12 * HOUR,
        next_refresh_at=planned,
    )
    sandbox.set_faults(fail_rate=1)
    accounts = sandbox_accounts(sandbox.shippit_url, MAX_RETRIES=0)
    accounts["REFRESH"] = {"SPARE_SHARE": 1.0, "SPARE_MIN_CHANCE": 0.1}
    with override_settings(SHIPPING_ORDERS=accounts):
        summary = refresh.refresh_due()
    assert (summary.spare, summary.failed) == (1, 1)
    stored = Order.objects.get(pk=order.pk)
    assert stored.refresh_failures == 1 and stored.last_error
    assert stored.next_refresh_at == planned, "on top of the schedule, never instead of it"


def test_no_order_seen_within_the_shortest_gap_can_be_likely_enough():
    gap = timedelta(seconds=shortest_spare_gap(P))
    now = T0 + 100 * HOUR
    for state in ("ready_for_pickup", "in_transit", "with_driver"):
        # However long in the state, just inside the gap it is not likely enough; past it, it may be.
        order = Seen(state, state_changed_at=T0, last_synced_at=now - gap + timedelta(seconds=1))
        assert change_chance(order, now=now, policy=P) < P.SPARE_MIN_CHANCE
    stuck = Seen("with_driver", state_changed_at=T0, last_synced_at=now - gap - HOUR)
    assert change_chance(stuck, now=now, policy=P) >= P.SPARE_MIN_CHANCE


def likely_moved_in_transit(orders: list[Order]) -> list[Order]:
    """``orders`` 30 h in transit, last seen 12 h ago: likely moved on, not due for 6 h."""
    now = timezone.now()
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(
        state="in_transit",
        courier_job_id="CPA1",
        state_changed_at=now - 30 * HOUR,
        last_synced_at=now - 12 * HOUR,
        next_refresh_at=now + 6 * HOUR,
        label="labels/stored.pdf",  # no label download to take a slot of the reserve
    )
    return orders


@pytest.mark.django_db(transaction=True)
def test_the_reserve_holds_when_spare_polls_are_picked_by_two_runs_at_once(
    sandbox, sandbox_settings, monkeypatch
):
    from django_shipping_orders.refresh import spare

    orders = likely_moved_in_transit(place(8))
    # Each run saw the whole spare budget free when it picked: together they picked twice it.
    monkeypatch.setattr(spare, "spare_slots", lambda account, policy: len(orders))
    sandbox.set_faults(rate_limit=LIMIT, rate_window=WINDOW, rate_clock="real")
    sandbox.reset_stats()
    caches["default"].clear()
    accounts = sandbox_accounts(sandbox.shippit_url, RATE_LIMIT=f"{LIMIT}/{WINDOW}s")
    accounts["REFRESH"] = {"SPARE_SHARE": 0.5, "SPARE_MIN_CHANCE": 0.1}
    with override_settings(SHIPPING_ORDERS=accounts):
        summary = refresh.refresh_due()
        second = refresh.refresh_due()
        from django_shipping_orders.conf import shipping_settings
        from django_shipping_orders.ratelimit import default_limiter

        left = default_limiter().available(shipping_settings.account("default"))
    assert summary.spare + second.spare > LIMIT // 2, "both runs picked more than the share"
    assert summary.fetched + second.fetched == LIMIT // 2, "the share was filled, no more"
    held_back = summary.spare_held_back + second.spare_held_back
    assert held_back == summary.spare + second.spare - LIMIT // 2
    assert summary.skipped_rate_limited == second.skipped_rate_limited == 0, "none was due"
    assert "left for the reserve" in str(summary)
    assert left == LIMIT - LIMIT // 2, "the reserve is still free for placing and labels"
    meter = sandbox.stats()["meter"]
    key = next(iter(meter["requests"]))
    assert meter["requests"][key] == LIMIT // 2 and meter["refused"].get(key, 0) == 0


@pytest.mark.parametrize(
    "state, stay",
    [
        ("ready_for_pickup", P.EXPECTED_LABELLED_STAY),
        ("in_transit", P.EXPECTED_MOVING_STAY),
        ("with_driver", P.EXPECTED_WITH_DRIVER_STAY),
    ],
)
def test_no_order_seen_within_its_own_states_gap_can_be_likely_enough(state, stay):
    gap = timedelta(seconds=spare_gap(stay, P))
    now = T0 + 1000 * HOUR
    for entered in (T0, now - 2 * gap, now - gap):
        order = Seen(state, entered, last_synced_at=now - gap + timedelta(seconds=1))
        assert change_chance(order, now=now, policy=P) < P.SPARE_MIN_CHANCE
    stuck = Seen(state, state_changed_at=T0, last_synced_at=now - gap - timedelta(minutes=1))
    assert change_chance(stuck, now=now, policy=P) >= P.SPARE_MIN_CHANCE


@pytest.mark.django_db(transaction=True)
def test_the_spare_picks_are_the_likeliest_of_all_open_orders(sandbox, sandbox_settings):
    from django_shipping_orders.refresh import spare

    orders = place(24)
    now = timezone.now()
    kinds = ["ready_for_pickup", "in_transit", "with_driver", "completed"]
    for i, order in enumerate(orders):
        Order.objects.filter(pk=order.pk).update(
            state=kinds[i % 4],
            courier_job_id="CPA1",
            state_changed_at=now - (3 + i) * HOUR,
            last_synced_at=now - timedelta(hours=1 + i / 2),
            pickup_at=now + HOUR if i % 8 == 0 else now - 3 * HOUR,
            next_refresh_at=now + HOUR,
        )
    policy = PolicySettings(SPARE_MIN_CHANCE=0.5)
    every = Order.objects.open().exclude(state="processing")
    scored = sorted(
        (-chance, o.pk)
        for o in every
        if (chance := change_chance(o, now=now, policy=policy)) >= policy.SPARE_MIN_CHANCE
    )
    assert scored, "some are likely enough"
    for count in (1, 5, 100):
        picked = spare.pick("default", count, now=now, policy=policy)
        assert picked == [pk for _, pk in scored[:count]]


@pytest.mark.django_db
@pytest.mark.parametrize("least", [1.0, 1 - 4e-16, 0.9999999999999999, 0.75, 0.01])
def test_the_picks_equal_a_full_scan_even_where_the_chance_rounds_to_one(least):
    from django_shipping_orders.refresh import spare

    now = T0 + 800 * HOUR
    states = ["in_transit", "with_driver", "ready_for_pickup", "in_transit"]
    for i in range(40):
        Order.objects.create(
            account="default",
            reference=f"PPSCAN{i}",
            state=states[i % 4],
            courier_job_id="CPA1",
            created_at=T0,
            state_changed_at=T0 + i * HOUR,
            last_synced_at=T0 + (i * 17 % 700) * HOUR,
            next_refresh_at=now + HOUR,
        )
    policy = PolicySettings(SPARE_MIN_CHANCE=least)
    scan = sorted(
        (-change_chance(order, now=now, policy=policy), order.pk)
        for order in Order.objects.open().filter(account="default")
        if change_chance(order, now=now, policy=policy) >= least
        and change_chance(order, now=now, policy=policy) > 0
    )
    assert scan, "some orders are likely enough at every setting here"
    assert spare.pick("default", 100, now=now, policy=policy) == [pk for _, pk in scan]


@pytest.mark.django_db(transaction=True)
def test_a_spare_order_another_run_polled_after_this_one_picked_it_is_not_polled_again(
    sandbox, sandbox_settings, monkeypatch
):
    """Two runs at once pick the same likeliest orders; the one that claims second finds
    them freshly synced by the other and leaves them: each is fetched once."""
    from django_shipping_orders.refresh import spare

    orders = place(6)
    sandbox.advance(5 * 3600)  # picked up at the provider: in transit there too
    likely_moved_in_transit(orders)
    real_pick = spare.pick
    other_run: list = []

    def pick_then_let_another_run_go_first(*args, **kwargs):
        ids = real_pick(*args, **kwargs)
        if not other_run:
            other_run.append(None)
            other_run[0] = refresh.refresh_due()  # picks and polls the same orders now
        return ids

    monkeypatch.setattr(spare, "pick", pick_then_let_another_run_go_first)
    accounts = sandbox_accounts(sandbox.shippit_url)
    accounts["REFRESH"] = {"SPARE_SHARE": 1.0, "SPARE_MIN_CHANCE": 0.1}
    with override_settings(SHIPPING_ORDERS=accounts):
        first = refresh.refresh_due()
    assert other_run[0].fetched == len(orders)
    assert first.fetched == 0
    assert [get_calls(sandbox, o.reference) for o in orders] == [1] * len(orders)
