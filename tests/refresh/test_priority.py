"""Who waits when the budget cannot poll every due order: processing first, no order for ever."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import caches
from django.test import override_settings
from django.utils import timezone

from django_shipping_orders import refresh, services
from django_shipping_orders.models import Order
from django_shipping_orders.policy import PolicySettings

from .conftest import ORDER, claim_concurrently, sandbox_accounts

pytestmark = pytest.mark.django_db(transaction=True)

P = PolicySettings()


def get_calls(sandbox, reference: str) -> int:
    order = sandbox.world.orders[reference]
    return sum(count for route, count in order.calls.items() if route.startswith("GET"))


def get_order_calls(sandbox, reference: str) -> int:
    """Get Order calls only (not label downloads)."""
    order = sandbox.world.orders[reference]
    return sum(
        count
        for route, count in order.calls.items()
        if route.startswith("GET") and not route.rstrip("/").endswith("label")
    )


def place(sandbox, processing: int, in_transit: int) -> tuple[list[Order], list[Order]]:
    """``processing`` orders still without a label and ``in_transit`` ones, placed outside
    the budget the test then sets (placing counts against the key too)."""
    with override_settings(SHIPPING_ORDERS=sandbox_accounts(sandbox.shippit_url)):
        orders = [services.place_order("default", ORDER) for _ in range(processing + in_transit)]
    caches["default"].clear()
    moving = orders[processing:]
    Order.objects.filter(pk__in=[o.pk for o in moving]).update(
        state="in_transit", courier_job_id="TRACK1"
    )
    return orders[:processing], moving


def due(orders: list[Order], minutes_ago: float) -> None:
    when = timezone.now() - timedelta(minutes=minutes_ago)
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(next_refresh_at=when)


def short_budget(sandbox, rate: str = "5/h", **refresh_settings: float):
    settings = sandbox_accounts(sandbox.shippit_url, RATE_LIMIT=rate)
    settings["REFRESH"] = refresh_settings
    return override_settings(SHIPPING_ORDERS=settings)


def test_a_short_budget_polls_the_processing_orders_before_overdue_transit_ones(sandbox):
    processing, moving = place(sandbox, processing=5, in_transit=5)
    due(moving, minutes_ago=40)  # overdue, but within MAX_DEFERRAL (1 h)
    due(processing, minutes_ago=1)
    with short_budget(sandbox):
        summary = refresh.refresh_due(workers=1)
    assert (summary.fetched, summary.skipped_rate_limited) == (5, 5)
    assert [get_calls(sandbox, o.reference) for o in processing] == [1] * 5
    assert [get_calls(sandbox, o.reference) for o in moving] == [0] * 5
    still_due = Order.objects.filter(next_refresh_at__lte=timezone.now())
    assert set(still_due) == set(moving), "the transit orders stay due for the next run"


def test_the_look_after_a_pickup_goes_with_the_processing_polls(sandbox):
    """A labelled order whose pickup time has passed is polled to notice a lost pickup
    callback: it goes before transit backups due earlier; one whose pickup is ahead does not."""
    _, orders = place(sandbox, processing=0, in_transit=7)
    picked_up, ahead, moving, long_ago = orders[:2], orders[2:4], orders[4:6], orders[6:]
    now = timezone.now()
    # A pickup days ago that never happened: polled every LABELLED_INTERVAL, with the rest.
    Order.objects.filter(pk__in=[o.pk for o in long_ago]).update(
        state="ready_for_pickup", pickup_at=now - timedelta(days=3)
    )
    Order.objects.filter(pk__in=[o.pk for o in picked_up]).update(
        state="ready_for_pickup", pickup_at=now - timedelta(minutes=30)
    )
    Order.objects.filter(pk__in=[o.pk for o in ahead]).update(
        state="ready_for_pickup", pickup_at=now + timedelta(hours=2)
    )
    due(moving + ahead, minutes_ago=50)
    due(long_ago, minutes_ago=60)
    due(picked_up, minutes_ago=1)
    with short_budget(sandbox, rate="2/h"):
        refresh.refresh_due(workers=1)
    polled = {o for o in orders if get_calls(sandbox, o.reference)}
    assert polled == set(picked_up)


def test_a_label_known_while_the_state_says_processing_gets_its_look_after_pickup(sandbox):
    """The app calls an order labelled once its courier tracking number is known, whatever
    the state says (``policy.is_allocated``): its look after pickup goes first too."""
    _, orders = place(sandbox, processing=0, in_transit=3)
    labelled, moving = orders[:1], orders[1:]
    Order.objects.filter(pk__in=[o.pk for o in labelled]).update(
        state="processing", pickup_at=timezone.now() - timedelta(minutes=30)
    )
    due(moving, minutes_ago=50)
    due(labelled, minutes_ago=1)
    with short_budget(sandbox, rate="1/h"):
        refresh.refresh_due(workers=1)
    assert {o for o in orders if get_calls(sandbox, o.reference)} == set(labelled)


def test_a_poll_late_by_max_deferral_is_served_in_its_turn(sandbox):
    processing, moving = place(sandbox, processing=3, in_transit=3)
    due(moving[:1], minutes_ago=P.MAX_DEFERRAL / 60 + 1)  # waited its bound
    due(moving[1:], minutes_ago=30)
    due(processing, minutes_ago=1)
    with short_budget(sandbox, rate="3/h"):
        refresh.refresh_due(workers=1)
    polled = {o for o in processing + moving if get_calls(sandbox, o.reference)}
    assert polled == {moving[0], *processing[:2]}, "the late one, then processing"


def test_no_order_waits_for_ever_behind_processing_polls(sandbox):
    """Every run, more processing polls are due than the budget serves; the transit order
    still gets its poll once it is MAX_DEFERRAL late."""
    processing, moving = place(sandbox, processing=4, in_transit=1)
    (transit,) = moving
    due(moving, minutes_ago=0)
    start = timezone.now()
    deferral = 15 * 60
    waited = None
    with short_budget(sandbox, rate="3/m", MAX_DEFERRAL=deferral):
        for minute in range(0, 40, 5):
            with time_machine.travel(start + timedelta(minutes=minute, seconds=1), tick=False):
                due(processing, minutes_ago=0)  # more than the 3 a run can poll
                caches["default"].clear()  # a new window of the limit
                refresh.refresh_due(workers=1)
                if get_calls(sandbox, transit.reference):
                    waited = minute
                    break
    assert waited is not None, "the transit order was polled"
    assert deferral / 60 <= waited <= deferral / 60 + 5, "deferred, then served at its bound"


def test_max_deferral_zero_polls_every_due_order_oldest_first(sandbox):
    processing, moving = place(sandbox, processing=3, in_transit=3)
    due(moving, minutes_ago=30)
    due(processing, minutes_ago=1)
    with short_budget(sandbox, rate="3/h", MAX_DEFERRAL=0):
        refresh.refresh_due(workers=1)
    assert [get_calls(sandbox, o.reference) for o in moving] == [1] * 3
    assert [get_calls(sandbox, o.reference) for o in processing] == [0] * 3


def test_dry_run_lists_the_due_orders_in_the_order_a_run_takes_them(sandbox, capsys):
    from django.core.management import call_command

    processing, moving = place(sandbox, processing=2, in_transit=2)
    due(moving, minutes_ago=30)
    due(processing, minutes_ago=1)
    with short_budget(sandbox):
        call_command("refresh_shipping_orders", "--dry-run")
    lines = capsys.readouterr().out.splitlines()
    listed = [line.split()[0].split(":")[1] for line in lines[:4]]
    assert listed == [o.reference for o in processing + moving]


# -- claiming: several workers at once --------------------------------------------------------


def _mixed_rows(count: int) -> tuple[set[int], set[int]]:
    """``count`` processing rows due a minute ago and ``count`` transit rows due 30 min ago."""
    now = timezone.now()
    rows = [
        Order(account="default", reference=f"PP{i:05d}", next_refresh_at=now - timedelta(minutes=1))
        for i in range(count)
    ] + [
        Order(
            account="default",
            reference=f"PT{i:05d}",
            state="in_transit",
            courier_job_id=f"C{i}",
            next_refresh_at=now - timedelta(minutes=30),
        )
        for i in range(count)
    ]
    created = Order.objects.bulk_create(rows)
    return {o.pk for o in created[:count]}, {o.pk for o in created[count:]}


def test_claims_take_processing_rows_first_and_the_rest_after(sandbox_settings):
    processing, moving = _mixed_rows(10)
    first = refresh.claim_due(refresh.due_orders(), limit=12)
    assert {o.pk for o in first[:10]} == processing
    assert {o.pk for o in first[10:]} <= moving and len(first) == 12
    rest = refresh.claim_due(refresh.due_orders(), limit=100)
    assert {o.pk for o in rest} == moving - {o.pk for o in first}


@pytest.mark.parametrize("workers", [2, 4])
def test_workers_claiming_at_once_never_take_the_same_order(sandbox_settings, workers):
    processing, moving = _mixed_rows(150)
    claimed = claim_concurrently(workers, refresh.claim_due)
    flat = [pk for part in claimed for pk in part]
    assert len(flat) == len(set(flat)) == len(processing | moving)


def test_an_order_due_again_at_once_after_a_failure_waits_for_the_next_run(sandbox):
    """ERROR_INITIAL 0 makes a failed order due again at once: the run does not claim it
    again ahead of the due orders it has not tried yet (one attempt each per run)."""
    _, orders = place(sandbox, processing=0, in_transit=40)
    sandbox.set_faults(fail_rate=1)
    # A clock that does not move while the run works: every order is due at the same
    # instant as the failed ones are due again.
    with (
        time_machine.travel(timezone.now(), tick=False),
        short_budget(sandbox, rate="1000/m", ERROR_INITIAL=0),
    ):
        due(orders, minutes_ago=0)
        summary = refresh.refresh_due(workers=1, spare=False)
    attempts = sorted(f.reference for f in summary.failures)
    assert attempts == sorted(o.reference for o in orders), "each due order tried, once"


def test_a_run_leaves_the_rest_while_another_run_holds_processing_polls(sandbox):
    """Two runs at once share one budget: while the other run still holds processing polls,
    this one does not spend that budget on transit backups; once they are done, it does."""
    processing, moving = place(sandbox, processing=3, in_transit=3)
    due(moving, minutes_ago=50)
    due(processing, minutes_ago=1)
    other_run = timezone.now() + timedelta(minutes=5)
    Order.objects.filter(pk__in=[o.pk for o in processing]).update(lease_expires_at=other_run)
    with short_budget(sandbox, rate="1000/m"):
        held = refresh.refresh_due(workers=1, spare=False)
        assert [get_order_calls(sandbox, o.reference) for o in moving] == [0] * 3
        assert held.fetched == 0
        Order.objects.filter(pk__in=[o.pk for o in processing]).update(lease_expires_at=None)
        refresh.refresh_due(workers=1, spare=False)
    assert [get_order_calls(sandbox, o.reference) for o in processing + moving] == [1] * 6


def test_a_run_is_not_held_back_by_its_own_claims(sandbox):
    """One run with many due orders claims them chunk after chunk: its own leased
    processing polls never stop it from taking the rest."""
    processing, moving = place(sandbox, processing=60, in_transit=40)
    due(moving, minutes_ago=50)
    due(processing, minutes_ago=1)
    with short_budget(sandbox, rate="1000/m"):
        summary = refresh.refresh_due(workers=4, spare=False)
    assert summary.fetched == 100
    assert [get_order_calls(sandbox, o.reference) for o in processing + moving] == [1] * 100
