"""Hundreds of orders, thousands of deliveries shuffled, polls in parallel: the mirror judged.

The whole truth is drawn first (each order's versions, far enough apart to
be ordered), then delivered as a provider would: every Shippit webhook once
or twice (a share repeated), at any delay, in a shuffled stream that
``callback_threads`` threads post through the callback view, while
``refresh_threads`` threads poll orders at random instants of their lives.
Each thread reads its own instant as now (``VirtualClock.at``): a webhook
arrives when it arrives, a poll is sent when it is sent, whatever order the
threads run in. Then the mirror is judged (``world.judge_mirror``) and, after
one last poll of every order, compared with the provider's newest state.

Used by tests/model/test_threads.py and bench/ordering.py.
"""

from __future__ import annotations

import queue
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from django.db import connections

from django_shipping_orders import callbacks, refresh, services
from django_shipping_orders.callbacks import reprocess
from django_shipping_orders.models import CallbackReceipt, Order

from . import world as model
from .world import SENDERLV, SHIPPIT, WINDOW, Delivery, Ledger, VirtualClock, World

START = datetime(2026, 3, 1, 6, 0, tzinfo=timezone.utc)


@dataclass
class Figures:
    """What a run delivered and what the judge found (``as_dict`` for JSON)."""

    orders: int = 0
    versions: int = 0
    deliveries: int = 0
    repeated_deliveries: int = 0
    out_of_order_deliveries: int = 0
    polls: int = 0
    applied: int = 0
    ignored: int = 0
    other_receipts: int = 0
    duplicate_rows: int = 0
    regressions: int = 0
    older_than_delivered: int = 0
    repeated_events: int = 0
    lost_receipts: int = 0
    wrong_final_states: int = 0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        values = dict(self.__dict__)
        values["problems"] = self.problems[:10]
        return values


def run(
    *,
    orders: int = 100,
    steps: int = 10,
    repeat_share: float = 0.3,
    polls_per_order: int = 3,
    callback_threads: int = 8,
    refresh_threads: int = 4,
    seed: int = 1,
) -> Figures:
    """Run the scenario on the configured database (model accounts set up by the caller)."""
    rng = random.Random(seed)
    clock = VirtualClock(START)
    world = World(clock)
    model.CURRENT["world"] = world
    ledger = Ledger()
    figures = Figures(orders=orders)
    deliveries, polls = _draw(world, rng, orders, steps, repeat_share, polls_per_order)
    figures.versions = sum(len(order.versions) for order in world.orders.values())
    figures.deliveries = len(deliveries)
    figures.repeated_deliveries = len(deliveries) - len(
        {(d.reference, d.version) for d, _ in deliveries}
    )
    figures.out_of_order_deliveries = _out_of_order(deliveries)
    figures.polls = len(polls)

    with clock.installed():
        # Both at once; a poll of an order not known yet finds nothing to poll.
        _in_threads(
            (callback_threads, deliveries, lambda item: _deliver(clock, ledger, *item)),
            (refresh_threads, polls, lambda item: _poll(clock, world, ledger, *item)),
        )
        clock.current = max(version.at for o in world.orders.values() for version in o.versions)
        clock.advance(timedelta(days=1))
        callbacks.process_pending()
        reprocess(
            list(CallbackReceipt.objects.reprocessable(failed=True).values_list("pk", flat=True))
        )

        verdict = model.judge_mirror(world, ledger, settled=True)
        statuses = list(CallbackReceipt.objects.values_list("status", flat=True))
        figures.applied = statuses.count(CallbackReceipt.Status.PROCESSED)
        figures.ignored = statuses.count(CallbackReceipt.Status.IGNORED)
        figures.other_receipts = len(statuses) - figures.applied - figures.ignored
        figures.duplicate_rows = len(verdict.duplicate_rows)
        figures.regressions = len(verdict.regressions)
        figures.older_than_delivered = len(verdict.older_than_delivered)
        figures.repeated_events = len(verdict.repeated_events)
        figures.lost_receipts = len(verdict.lost_receipts)
        figures.problems = verdict.all()

        # One last poll of every order: each must stand at the provider's newest state.
        for order in Order.objects.filter(reference__isnull=False):
            services.refresh_order(order)
        stored = dict(
            ((account, reference), state)
            for account, reference, state in Order.objects.filter(
                reference__isnull=False
            ).values_list("account", "reference", "state")
        )
        for key, true in world.orders.items():
            if key in stored and stored[key] != true.latest.state:
                figures.wrong_final_states += 1
                figures.problems.append(
                    f"{key[1]}: ends {stored[key]!r}, truth {true.latest.state!r}"
                )
    model.CURRENT.pop("world", None)
    return figures


def _draw(
    world: World,
    rng: random.Random,
    count: int,
    steps: int,
    repeat_share: float,
    polls_per_order: int,
) -> tuple[list[tuple[Delivery, datetime]], list[tuple[tuple[str, str], datetime]]]:
    """The truth of ``count`` orders, the shuffled delivery stream and the polls."""
    deliveries: list[tuple[Delivery, datetime]] = []
    polls: list[tuple[tuple[str, str], datetime]] = []
    for number in range(count):
        account = SHIPPIT if number % 2 == 0 else SENDERLV
        skew = timedelta(seconds=rng.uniform(-WINDOW.total_seconds(), WINDOW.total_seconds()))
        world.clock.current = START + timedelta(seconds=rng.uniform(0, 6 * 3600))
        order = world.create(account, skew)
        for _ in range(steps):
            if not order.next_states():
                break
            world.clock.advance(model.MIN_STEP + timedelta(seconds=rng.expovariate(1 / 1800)))
            # Long lives: a final state only when nothing else may follow (side loops, returns).
            choices = [state for state in order.next_states() if _next(order, state)]
            for delivery in world.advance(order, rng.choice(choices or order.next_states())):
                if account == SENDERLV:
                    # Sent once, when processed; it arrives within seconds.
                    arrival = world.clock.current + timedelta(seconds=rng.uniform(0, 4))
                    deliveries.append((delivery, arrival))
                    continue
                # A second copy with this chance makes ``repeat_share`` of all deliveries repeats.
                copies = 2 if rng.random() < repeat_share / (1 - repeat_share) else 1
                for _ in range(copies):
                    late = timedelta(seconds=rng.choice([0, 1, 30, 600, 3600, 4 * 3600]))
                    deliveries.append((delivery, world.clock.current + late))
        if account == SHIPPIT:
            # The webhook of the first version: Shippit tells of the new order too.
            first = Delivery(account, order.reference, 0, model._dump(order.webhook_body(0)))
            deliveries.append((first, order.versions[0].at + timedelta(seconds=rng.uniform(0, 60))))
        end = order.latest.at + timedelta(hours=1)
        for _ in range(polls_per_order):
            span = (end - order.versions[0].at).total_seconds()
            polls.append(
                (order.key, order.versions[0].at + timedelta(seconds=rng.uniform(0, span)))
            )
    rng.shuffle(deliveries)
    rng.shuffle(polls)
    return deliveries, polls


def _next(order: model.TrueOrder, state: str) -> bool:
    table = model.SHIPPIT_NEXT if order.account == SHIPPIT else model.SENDERLV_NEXT
    return bool(table[state])


def _out_of_order(deliveries: list[tuple[Delivery, datetime]]) -> int:
    """Deliveries posted after a newer version of the same order was posted."""
    newest: dict[str, int] = {}
    count = 0
    for delivery, _ in deliveries:
        if newest.get(delivery.reference, -1) > delivery.version:
            count += 1
        newest[delivery.reference] = max(newest.get(delivery.reference, -1), delivery.version)
    return count


def _deliver(clock: VirtualClock, ledger: Ledger, delivery: Delivery, arrival: datetime) -> None:
    with clock.at(arrival):
        status, receipt = model.post(delivery)
    assert status in (200, 202), (status, delivery)
    ledger.receipt(receipt, delivery)


def _poll(
    clock: VirtualClock, world: World, ledger: Ledger, key: tuple[str, str], at: datetime
) -> None:
    order = Order.objects.filter(account=key[0], reference=key[1]).first()
    if order is None:
        return  # not known yet: nothing to poll
    with clock.at(at):
        if at.microsecond % 2:
            summary = refresh.refresh_orders([order.pk], workers=1)
            if summary.fetched != 1:
                return  # skipped (rate limit or another worker's lease): nothing applied
        else:
            services.refresh_order(order)
    ledger.poll(key, world.orders[key].version_at(at).index)


def _in_threads(*groups: tuple[int, list[Any], Any]) -> None:
    """For each (threads, items, work): ``work(item)`` for every item on that many threads,
    all groups at once; the first error is raised."""
    errors: list[BaseException] = []
    threads = []
    for count, items, work in groups:
        todo: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for item in items:
            todo.put(item)
        for _ in range(count):
            threads.append(threading.Thread(target=_loop, args=(todo, work, errors)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _loop(todo: queue.SimpleQueue[Any], work: Any, errors: list[BaseException]) -> None:
    try:
        while not errors:
            try:
                item = todo.get_nowait()
            except queue.Empty:
                return
            work(item)
    except BaseException as err:  # reported by the caller
        errors.append(err)
    finally:
        connections.close_all()
