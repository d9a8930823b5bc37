"""Model-based: any interleaving of deliveries, polls, crashes and drains keeps the promises.

Hypothesis drives a simulated provider (``world``) that holds the true life of
a few orders in both dialects (Shippit webhooks with their status history,
Sender.lv's once-only callback), and the real app: the callback view, the
refresh engine, ``place_order``, the deferred drain and reprocessing. Its
rules deliver webhooks late, twice and out of order, poll at any time, lose a
placement's answer, crash or lock the processing of a callback, and drain.
After every step the mirror is judged against the truth
(``world.judge_mirror``): one row per provider order, a state never older
than the newest truth delivered and never moving back, no repeated event, no
receipt answered and lost; after the last step everything is delivered and
drained, and every order must stand at the provider's newest state.

``HYPOTHESIS_PROFILE=ci`` runs thousands of examples (tests/conftest.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from django.core.cache import cache
from django.db import OperationalError
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from django_shipping_orders import callbacks, refresh, services, sync
from django_shipping_orders.callbacks import reprocess
from django_shipping_orders.exceptions import ShippingOrdersError
from django_shipping_orders.models import CallbackReceipt, Order

from . import world as model
from .world import SENDERLV, SHIPPIT, WINDOW, Ledger, VirtualClock, World

pytestmark = pytest.mark.django_db

MAX_ORDERS = 2
START = datetime(2026, 2, 1, 8, 0, tzinfo=timezone.utc)


class Mirror(RuleBasedStateMachine):
    """One example: a world on a virtual clock, starting from empty tables."""

    #: Installed as ``timezone.now`` by the test for all its examples.
    clock: VirtualClock

    def __init__(self) -> None:
        super().__init__()
        # Whatever an earlier example left (even one that failed half-way) is gone.
        CallbackReceipt.objects.all().delete()
        Order.objects.all().delete()
        cache.clear()
        self.clock.current = START
        self.world = World(self.clock)
        model.CURRENT["world"] = self.world
        self.ledger = Ledger()
        self.crash: str = ""

    # -- the provider -----------------------------------------------------------------------

    @initialize(skew=st.integers(-int(WINDOW.total_seconds()), int(WINDOW.total_seconds())))
    def start(self, skew: int) -> None:
        self.skew = timedelta(seconds=skew)

    @precondition(lambda self: len(self.world.orders) < MAX_ORDERS)
    @rule(account=st.sampled_from([SHIPPIT, SENDERLV]))
    def order_created_at_the_provider(self, account: str) -> None:
        self.world.create(account, self.skew)

    @precondition(lambda self: len(self.world.orders) < MAX_ORDERS)
    @rule(account=st.sampled_from([SHIPPIT, SENDERLV]), lose_answer=st.booleans())
    def place_an_order(self, account: str, lose_answer: bool) -> None:
        self.world.lose_next_answer = lose_answer
        number = len(self.world.orders) + 1
        payload = {"retailer_reference": f"SHOP-{number:05d}", "receiver_name": "Model Receiver"}
        try:
            order = services.place_order(account, payload)
        except ShippingOrdersError:
            assert lose_answer, "only a lost answer may fail a placement here"
        else:
            self.ledger.poll((account, order.reference or ""), 0)
        true = self.world.orders[(account, self._last_reference(account))]
        true.skew = self.skew

    def _last_reference(self, account: str) -> str:
        return [key[1] for key in self.world.orders if key[0] == account][-1]

    @precondition(lambda self: bool(self.world.orders))
    @rule(data=st.data(), seconds=st.integers(0, 3600), at_once=st.booleans())
    def an_order_moves_on(self, data: Any, seconds: int, at_once: bool) -> None:
        """Time passes and an order takes its next step; Shippit's webhook may arrive at once."""
        movable = [order for order in self.world.orders.values() if order.next_states()]
        self.clock.advance(model.MIN_STEP + timedelta(seconds=seconds))
        if not movable:
            return
        order = data.draw(st.sampled_from(movable), label="order")
        state = data.draw(st.sampled_from(order.next_states()), label="state")
        for delivery in self.world.advance(order, state):
            if order.account == SENDERLV or at_once:
                # Sender.lv's is sent once, when it happens, and never again.
                self._deliver(delivery)
                self.world.delivered.append(delivery)
            else:
                self.world.undelivered.append(delivery)

    @precondition(lambda self: bool(self.world.orders))
    @rule(data=st.data(), seconds=st.integers(0, 600))
    def an_order_goes_round_a_side_loop(self, data: Any, seconds: int) -> None:
        """X, then a side state, then X again (pickup failed, ready again); webhooks held back.

        The provider's truth comes back to what a poll may already have seen:
        only a clock moved by that poll keeps the side state's late webhook out.
        """
        looping = [
            order
            for order in self.world.orders.values()
            if order.account == SHIPPIT and order.latest.state in model.SIDE_LOOPS
        ]
        if not looping:
            return
        order = data.draw(st.sampled_from(looping), label="order")
        back = order.latest.state
        for state in (model.SIDE_LOOPS[back], back):
            self.clock.advance(model.MIN_STEP + timedelta(seconds=seconds))
            self.world.undelivered.extend(self.world.advance(order, state))

    # -- deliveries ---------------------------------------------------------------------------

    @precondition(lambda self: bool(self.world.undelivered or self.world.delivered))
    @rule(
        data=st.data(),
        count=st.integers(1, 4),
        failure=st.sampled_from(["", "", "", "crash", "lock"]),
    )
    def webhooks_arrive(self, data: Any, count: int, failure: str) -> None:
        """Late, out of order, or again; the processing of the first may crash or meet a lock."""
        self.crash = failure
        for _ in range(count):
            again = not self.world.undelivered or (
                self.world.delivered and data.draw(st.integers(0, 3), label="again") == 0
            )
            if again:
                delivery = data.draw(st.sampled_from(self.world.delivered), label="again")
                if delivery.account == SENDERLV:
                    continue  # sent once, never again
            else:
                index = data.draw(st.integers(0, len(self.world.undelivered) - 1), label="which")
                delivery = self.world.undelivered.pop(index)
                self.world.delivered.append(delivery)
            self._deliver(delivery)
        self.crash = ""

    def _deliver(self, delivery: model.Delivery) -> None:
        status, receipt = model.post(delivery)
        assert status in (200, 202), status
        self.ledger.receipt(receipt, delivery)

    # -- polls, crashes, drains -----------------------------------------------------------------

    @precondition(lambda self: bool(self.world.orders))
    @rule(data=st.data(), engine=st.booleans())
    def a_poll(self, data: Any, engine: bool) -> None:
        known = list(Order.objects.filter(reference__isnull=False).order_by("pk"))
        if not known:
            return
        order = data.draw(st.sampled_from(known), label="order")
        true = self.world.orders[(order.account, order.reference)]
        version = true.version_at(self.clock.now()).index
        if engine:
            for _ in range(3):
                # The rate limiter may refuse a request that crosses one of its sub-windows
                # (real time): the engine reports it skipped; the model asks again.
                summary = refresh.refresh_orders([order.pk], workers=1)
                if not summary.skipped_rate_limited:
                    break
            assert summary.fetched == 1, summary
        else:
            services.refresh_order(order)
        self.ledger.poll(true.key, version)

    @precondition(lambda self: bool(self.world.delivered))
    @rule(failure=st.sampled_from(["", "", "crash", "lock"]))
    def the_drain_runs(self, failure: str) -> None:
        """The every-minute schedule, some minutes later; its first receipt may crash or lock."""
        self._drain(failure)

    def _drain(self, failure: str = "") -> None:
        self.clock.advance(timedelta(minutes=11))
        self.crash = failure
        callbacks.process_pending()
        self.crash = ""
        # Then staff reprocess what failed (reprocess_shipping_callbacks --failed).
        failed = CallbackReceipt.objects.reprocessable(failed=True).values_list("pk", flat=True)
        reprocess(list(failed))

    # -- the promises ---------------------------------------------------------------------------

    @invariant()
    def the_mirror_keeps_its_promises(self) -> None:
        verdict = model.judge_mirror(self.world, self.ledger)
        assert verdict.all() == []

    def teardown(self) -> None:
        self._settle()

    def _settle(self) -> None:
        """Everything delivered and drained, every order polled: each at its newest state."""
        if not self.world.orders:
            return
        for delivery in self.world.undelivered:
            self._deliver(delivery)
        self.world.undelivered.clear()
        self._drain()
        if CallbackReceipt.objects.filter(status=CallbackReceipt.Status.RECEIVED).exists():
            self._drain()  # what a lock left waiting
        for order in Order.objects.filter(reference__isnull=False):
            services.refresh_order(order)
            true = self.world.orders[(order.account, order.reference)]
            self.ledger.poll(true.key, true.latest.index)
        verdict = model.judge_mirror(self.world, self.ledger, settled=True)
        assert verdict.all() == []
        stored = dict(
            ((account, reference), state)
            for account, reference, state in Order.objects.filter(
                reference__isnull=False
            ).values_list("account", "reference", "state")
        )
        for key, true in self.world.orders.items():
            if key in stored:
                assert stored[key] == true.latest.state, (key, stored[key], true.versions)


@pytest.mark.parametrize("mode", ["inline", "deferred"])
def test_the_mirror_keeps_its_promises_whatever_arrives_in_whatever_order(
    model_settings, monkeypatch, mode
):
    model_settings.SHIPPING_ORDERS = {**model_settings.SHIPPING_ORDERS, "CALLBACK_PROCESSING": mode}
    machines: list[Mirror] = []

    class Machine(Mirror):
        clock = VirtualClock(START)

        def __init__(self) -> None:
            super().__init__()
            machines.append(self)

    monkeypatch.setattr(sync, "apply_document", _failing_apply_for(machines))
    with Machine.clock.installed():
        run_state_machine_as_test(Machine)


def _failing_apply_for(machines: list[Mirror]) -> Any:
    real = sync.apply_document

    def apply(*args: Any, **kwargs: Any) -> Any:
        machine = machines[-1] if machines else None
        if machine is not None and machine.crash and kwargs.get("receipt") is not None:
            kind, machine.crash = machine.crash, ""
            if kind == "lock":
                raise OperationalError("database is locked")
            raise RuntimeError("the worker crashed")
        return real(*args, **kwargs)

    return apply
