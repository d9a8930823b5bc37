"""Freshness and API calls of the real refresh policy and engine, against a naive poller.

Three simulated days against the sandbox (in this process, its clock frozen
and moved in steps of ``--step`` seconds, with ``time-machine`` moving the
app's clock in step): ``--orders`` orders placed at random times over the
first day through ``services.place_order``, processed by the sandbox in
1 s to 20 min, then picked up 3 h later, 24 h in transit, 4 h with the driver.
Every state change makes a callback; a seeded ``--drop`` share of them is
lost, the rest are applied in-process through ``apply_document`` with source
``"callback"`` (the body the sandbox would POST), at the step they fall due.
Each step the engine runs ``refresh_due()`` (no waiting: what the budget
allows) with the account limited to ``--rate`` requests per minute; the
sandbox enforces the same limit and counts the busiest 60 s.

``--steady`` places the orders at a constant rate over the whole run instead
(a shop that sells every day: its open orders at any moment are those placed
over an order's life, about 31 h), and takes the figures after ``--warmup``
hours, once the open orders have levelled: the label delays of the orders
processed after it, the transit changes due after it, the Get Order calls made
after it over the orders placed after it (in a steady state, one order's
lifetime of calls), and the open orders counted hourly after it.

Baseline, in the same run: a poller that fetches every open order every 5
minutes, as many as the same limit allows (oldest poll first), replayed
minute by minute over the same orders' timelines with the same callbacks
delivered at the same times.

Reported (one JSON object per line): API calls (Get Order) per order, the
95th percentile delay from "processed at the provider" to "label and courier
tracking number known here", and the 95th percentile staleness of in-transit
states (in_transit, with_driver: from the provider's change to the mirror
knowing it), for both, with the ratio of calls; and the sandbox's busiest
60 s and 429 count.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402
from _common import BENCH_ORDER  # noqa: E402
from django.conf import settings  # noqa: E402

API_KEY = "bench-freshness-key"
DAY = 86400.0
MOVING = ("in_transit", "with_driver")
ORDER = {**BENCH_ORDER, "retailer_reference": "#FRESH"}


def p95(values: list[float]) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--step", type=float, default=15.0, help="simulated seconds per step")
    parser.add_argument("--rate", type=int, default=60, help="requests per minute per key")
    parser.add_argument("--drop", type=float, default=0.2, help="share of callbacks lost")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--steady",
        action="store_true",
        help="place the orders at a constant rate over the whole run (not all on the first "
        "day) and take the figures after --warmup, once the open orders have levelled",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=32.0,
        help="hours before the figures of --steady are taken (an order's life is about 31 h)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=SECONDS",
        help="a REFRESH setting for this run (repeatable), e.g. --set MOVING_INTERVAL=21600",
    )
    parser.add_argument(
        "--capacity",
        default="",
        metavar="N,N,…",
        help="order volumes to try at --capacity-rate; reports the most open orders per key "
        "that still keep label p95 <= 5 min and in-transit p95 <= 2 h, scaled to --rate",
    )
    parser.add_argument(
        "--capacity-rate",
        type=int,
        default=None,
        help="requests per minute of the search (default --rate: measured, not scaled)",
    )
    args = parser.parse_args()
    if args.steady and args.warmup >= args.days * 24:
        parser.error("--warmup must be shorter than the run (--days)")
    capacity_rate = args.capacity_rate or args.rate
    overrides = {name: float(value) for name, value in (item.split("=", 1) for item in args.set)}

    settings.Q_CLUSTER = {
        "name": "bench-freshness",
        "orm": "default",
        "sync": False,
        "timeout": 60,
        "retry": 120,
        "log_level": "WARNING",
    }
    django.setup()

    if not args.capacity:
        print(json.dumps(simulate(args, args.orders, args.rate, overrides)), flush=True)
        return
    # Every poll is budget: the volume a key can carry grows in step with its rate limit.
    # A search at a lower --capacity-rate is scaled to --rate (pessimistic: at a low rate a
    # burst of due polls waits whole minutes for slots).
    scale = args.rate / capacity_rate
    best = 0
    for volume in sorted(int(v) for v in args.capacity.split(",")):
        result = simulate(args, volume, capacity_rate, overrides)
        holds = (
            result["p95_label_delay_minutes"] <= 5 and result["p95_in_transit_staleness_hours"] <= 2
        )
        print(json.dumps({**result, "bench": "refresh_freshness_volume", "holds": holds}))
        if holds:
            best = max(best, result["max_open_orders"])
    capacity = {
        "bench": "refresh_freshness_capacity",
        "scenario": _scenario(args),
        "rate_limit_per_minute": args.rate,
        "searched_at_rate_per_minute": capacity_rate,
        "volumes": args.capacity,
        "capacity_open_orders_per_key": round(best * scale),
        "settings": overrides,
    }
    print(json.dumps(capacity), flush=True)


def _scenario(args: argparse.Namespace) -> str:
    return "steady" if args.steady else "first_day_burst"


def simulate(args: argparse.Namespace, orders: int, rate: int, overrides: dict) -> dict:
    """One run of ``orders`` orders at ``rate`` requests a minute; returns the figures."""
    import time_machine
    from django.db import connection
    from django.test.utils import override_settings

    from django_shipping_orders import refresh, services, signals, states
    from django_shipping_orders.exceptions import RateLimited
    from django_shipping_orders.models import Order, Source
    from django_shipping_orders.providers import get_provider
    from django_shipping_orders.sandbox import SandboxServer
    from django_shipping_orders.sandbox.dialects import callback_body
    from django_shipping_orders.sync import apply_document

    test_settings = connection.settings_dict.setdefault("TEST", {})
    if connection.vendor != "sqlite":
        test_settings["NAME"] = f"bench_freshness_{os.getpid()}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)

    sandbox = SandboxServer("127.0.0.1", 0, speed=0.0, seed=args.seed, cancel_share=0.1)
    sandbox.start()
    sandbox.dispatcher.stop()  # callbacks are delivered below, in step with the clocks
    sandbox.add_account(API_KEY)
    sandbox.set_faults(rate_limit=rate)
    shipping = {
        "ACCOUNTS": {
            "default": {
                "PROVIDER": "sandbox",
                "API_KEY": API_KEY,
                "BASE_URL": sandbox.shippit_url,
                "RATE_LIMIT": f"{rate}/m",
                "MAX_RETRIES": 0,
            }
        },
        "REFRESH_WORKERS": 1,
        "REFRESH": overrides,
    }
    rng = random.Random(args.seed)
    start = sandbox.now()
    # Burst: every order placed on the first day, figures over the whole run. Steady: placed
    # at a constant rate over the whole run, figures from ``since`` on (after the warm-up).
    placing = args.days * DAY if args.steady else DAY
    since = start + args.warmup * 3600 if args.steady else start
    placements = sorted(start + rng.uniform(0, placing) for _ in range(orders))
    calls_before = 0  # Get Order calls made before ``since``
    open_counts: list[int] = []
    label_known: dict[str, float] = {}
    seen: dict[str, list[tuple[float, str]]] = {}
    delivered: list[tuple[str, str, float]] = []

    def on_synced(sender, order, **kwargs):
        if order.courier_job_id and order.reference not in label_known:
            label_known[order.reference] = django.utils.timezone.now().timestamp()

    def on_state(sender, order, to_state, **kwargs):
        seen.setdefault(order.reference, []).append(
            (django.utils.timezone.now().timestamp(), to_state)
        )

    signals.order_synced.connect(on_synced, weak=False)
    signals.order_state_changed.connect(on_state, weak=False)
    started = time.perf_counter()
    try:
        with (
            override_settings(SHIPPING_ORDERS=shipping),
            time_machine.travel(start, tick=False) as traveller,
        ):
            provider = get_provider("default")
            next_placement = 0
            steps = int(args.days * DAY / args.step)
            hourly = max(1, int(3600 / args.step))
            for step in range(steps):
                if step % hourly == 0 and sandbox.now() >= since:
                    open_counts.append(Order.objects.open().count())
                sandbox.advance(args.step)
                now = sandbox.now()
                if args.steady and now - args.step < since <= now:
                    calls_before = _get_calls(sandbox.world.orders.values())
                traveller.move_to(now)
                while next_placement < len(placements) and placements[next_placement] <= now:
                    try:
                        services.place_order("default", ORDER)
                    except RateLimited:
                        break  # the budget is spent: placed at a later step, as a shop would
                    next_placement += 1
                for event in sandbox.world.pop_due(now):
                    if rng.random() < args.drop:
                        continue
                    body = callback_body(event.order, event.state, event.at, sandbox.links)
                    apply_document("default", provider.parse_document(body), Source.CALLBACK)
                    delivered.append((event.order.ref, event.state, now))
                refresh.refresh_due()
            end = sandbox.now()
        wall = time.perf_counter() - started
        stats = sandbox.stats()
        world = sandbox.world.orders
        engine_calls = _get_calls(world.values()) - calls_before
        # Steady: the calls of the window over the orders placed in it (the same in a steady
        # state as the calls of one order's whole life).
        counted = sum(1 for o in world.values() if o.placed_at >= since) or 1
        labelled = [o for o in world.values() if o.accepted and since <= o.processed_at <= end]
        engine_label = [label_known.get(o.ref, end) - o.processed_at for o in labelled]
        engine_stale = []
        for order in labelled:
            changes = seen.get(order.ref, [])
            for state in MOVING:
                planned = order.planned(state)
                if planned is None or planned > end or planned < since:
                    continue
                rank = states.state_rank(state)
                known = [t for t, s in changes if (states.state_rank(s) or 0) >= rank]
                engine_stale.append((min(known) if known else end) - planned)
        base = baseline(world, delivered, rate, since, end, MOVING, states)
        result = {
            "bench": "refresh_freshness",
            "scenario": _scenario(args),
            "database": connection.vendor,
            "orders": len(world),
            "simulated_days": args.days,
            "step_seconds": args.step,
            "rate_limit_per_minute": rate,
            "settings": overrides,
            "callbacks_dropped_share": args.drop,
            "callbacks_delivered": len(delivered),
            "wall_seconds": round(wall, 1),
            "api_calls_per_order": round(engine_calls / counted, 2),
            "baseline_api_calls_per_order": round(base["calls"] / counted, 2),
            "calls_ratio": round(base["calls"] / max(1, engine_calls), 1),
            "p95_label_delay_minutes": round(p95(engine_label) / 60, 2),
            "baseline_p95_label_delay_minutes": round(p95(base["label"]) / 60, 2),
            "p95_in_transit_staleness_hours": round(p95(engine_stale) / 3600, 2),
            "baseline_p95_in_transit_staleness_hours": round(p95(base["stale"]) / 3600, 2),
            "max_requests_per_60s": max(stats["max_requests_per_60s"].values(), default=0),
            "throttled_429": stats["throttled"],
            "place_order_calls": orders,
            "orders_still_open": Order.objects.open().count(),
            "max_open_orders": max(open_counts, default=0),
        }
        if args.steady:
            result |= {
                "warmup_hours": args.warmup,
                "orders_per_minute": round(orders / (args.days * 1440), 2),
                "orders_measured": counted,
                "mean_open_orders": round(sum(open_counts) / max(1, len(open_counts))),
                "min_open_orders": min(open_counts, default=0),
            }
        return result
    finally:
        signals.order_synced.disconnect(on_synced)
        signals.order_state_changed.disconnect(on_state)
        sandbox.stop()
        connection.creation.destroy_test_db(old_name, verbosity=0)


def _get_calls(orders) -> int:
    """Get Order (and other GET) calls the sandbox counted for ``orders``."""
    return sum(
        count for order in orders for route, count in order.calls.items() if route.startswith("GET")
    )


def baseline(world, delivered, rate, since, end, moving, states) -> dict:
    """Replay a poller of every open order every 5 minutes under ``rate`` per minute."""
    callbacks: dict[str, list[tuple[float, str]]] = {}
    for ref, state, at in delivered:
        callbacks.setdefault(ref, []).append((at, state))
    known: dict[str, list[tuple[float, str]]] = {ref: list(cb) for ref, cb in callbacks.items()}
    label_at: dict[str, float] = {}
    for ref, items in callbacks.items():
        order = world[ref]
        for at, _ in items:
            if order.allocated(at - 1e-6) or order.allocated(at):
                label_at[ref] = min(label_at.get(ref, at), at)
    # The earliest time each order is known to be final (by a callback, or a poll below).
    final_at: dict[str, float] = {}
    for ref, items in callbacks.items():
        for at, state in items:
            if states.is_terminal(state):
                final_at[ref] = min(final_at.get(ref, at), at)
    heap = [(o.placed_at, ref) for ref, o in world.items()]
    heapq.heapify(heap)
    calls = 0
    minute = min(o.placed_at for o in world.values())
    while minute < end and heap:
        budget = rate
        while budget and heap and heap[0][0] <= minute:
            _, ref = heapq.heappop(heap)
            order = world[ref]
            when = minute + (rate - budget) * 60.0 / rate
            # Known to be final (by an earlier poll or a callback): no longer open.
            if final_at.get(ref, when + 1) <= when:
                continue
            if when >= since:
                calls += 1
            budget -= 1
            state = order.state_at(when)
            known.setdefault(ref, []).append((when, state))
            if order.allocated(when):
                # The earliest sighting counts: a later callback may already be recorded.
                label_at[ref] = min(label_at.get(ref, when), when)
            if not states.is_terminal(state):
                heapq.heappush(heap, (when + 300.0, ref))
        minute += 60.0
    labels, stale = [], []
    for ref, order in world.items():
        if not order.accepted or not since <= order.processed_at <= end:
            continue
        labels.append(min(label_at.get(ref, end), end) - order.processed_at)
        for state in moving:
            planned = order.planned(state)
            if planned is None or planned > end or planned < since:
                continue
            rank = states.state_rank(state)
            times = [t for t, s in known.get(ref, []) if (states.state_rank(s) or 0) >= rank]
            stale.append((min(times) if times else end) - planned)
    return {"calls": calls, "label": labels, "stale": stale}


if __name__ == "__main__":
    main()
