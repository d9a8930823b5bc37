"""Throughput of the refresh engine beside the naive peer, in the same run.

Starts the sandbox in its own process (no latency, no rate limit, clock
frozen), places ``--orders`` orders through ``services.place_order`` and lets
the sandbox process them all (label, courier tracking number, pickup time).
Then, with ``--workers`` threads on both sides:

- first sync: the peer (``bench/_peer.py``: a ``requests.Session`` GET of Get
  Order, then ``update_or_create`` of the order and of each parcel and product)
  writes every order for the first time, into rows of its own; the engine
  (``refresh.refresh_due()``: claim with leases, the shared rate limiter, GET,
  ``apply_document``, lease release, label downloads queued) brings every
  placed order its first news since placing: state, label, courier tracking
  number, parcels, an event and a queued label download each;
- already mirrored, ``--rounds`` times: the same again with nothing new.

Medians of the rounds are reported, with the rate of bare GETs (one shared
session, nothing else) as the ceiling. One JSON object per line:

{"bench": "refresh_first_sync" | "refresh_mirrored", "database": ..., "orders": ...,
 "workers": ..., "orders_per_second": ..., "peer_orders_per_second": ..., "ratio": ...,
 "bare_get_orders_per_second": ...}

Uses the test settings with their SQLite file by default; ``DATABASE_URL``
picks PostgreSQL (a throw-away database ``bench_refresh_<pid>`` is created).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402
import requests  # noqa: E402
from _common import BENCH_ORDER, start_server, stop_server  # noqa: E402
from _peer import peer_pass  # noqa: E402
from django.conf import settings  # noqa: E402

API_KEY = "bench-refresh-key"
ORDER = {**BENCH_ORDER}


def start_sandbox() -> tuple[subprocess.Popen, str]:
    args = ["-m", "django_shipping_orders.sandbox", "--port", "0", "--speed", "0", "--seed", "1"]
    return start_server([*args, "--cancel-share", "0", "--account", f"{API_KEY}=shippit"])


def plain_gets(urls: list[str], headers: dict[str, str], workers: int) -> float:
    """Orders per second of bare GETs: one shared session, ``workers`` threads."""
    session = requests.Session()
    session.headers.update(headers)

    def get(url: str) -> None:
        response = session.get(url, timeout=30)
        response.raise_for_status()
        response.json()

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(get, urls))
    elapsed = time.perf_counter() - started
    session.close()
    return len(urls) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--profile",
        choices=["first", "mirrored"],
        help="Print a profile of the engine's first sync, or of its last mirrored pass, to stderr.",
    )
    args = parser.parse_args()

    # Label downloads are queued for a cluster (ORM broker), as in production,
    # not run inline as in the test settings.
    settings.Q_CLUSTER = {
        "name": "bench-refresh",
        "orm": "default",
        "sync": False,
        "timeout": 60,
        "retry": 120,
        "log_level": "WARNING",
    }
    django.setup()
    from django.db import connection
    from django.test.utils import override_settings

    from django_shipping_orders import refresh, services
    from django_shipping_orders.models import Order

    proc, sandbox_url = start_sandbox()
    test_settings = connection.settings_dict.setdefault("TEST", {})
    if connection.vendor != "sqlite":
        test_settings["NAME"] = f"bench_refresh_{os.getpid()}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    shipping = {
        "ACCOUNTS": {
            "default": {
                "PROVIDER": "sandbox",
                "API_KEY": API_KEY,
                "BASE_URL": f"{sandbox_url}/api/3",
                "RATE_LIMIT": "100000000/m",
                "MAX_RETRIES": 0,
            }
        },
        "REFRESH_WORKERS": args.workers,
    }
    try:
        with override_settings(SHIPPING_ORDERS=shipping):
            for _ in range(args.orders):
                services.place_order("default", ORDER)
            requests.post(f"{sandbox_url}/_sandbox/advance", json={"seconds": 7200}, timeout=10)
            references = list(
                Order.objects.filter(account="default").values_list("reference", flat=True)
            )
            urls = [f"{sandbox_url}/api/3/orders/{ref}" for ref in references]
            headers = {"Authorization": f"Bearer {API_KEY}", "Accept": "application/json"}
            plain_gets(urls[:200], headers, args.workers)  # warm-up

            def make_due() -> None:
                past = Order.objects.filter(account="default")
                past.update(next_refresh_at=django.utils.timezone.now() - timedelta(seconds=1))

            def engine_pass(profile: bool = False) -> tuple[float, object]:
                make_due()
                profiler = cProfile.Profile() if profile else None
                started = time.perf_counter()
                if profiler:
                    profiler.enable()
                summary = refresh.refresh_due()
                elapsed = time.perf_counter() - started
                if profiler:
                    profiler.disable()
                    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(40)
                return summary.fetched / elapsed, summary

            base_url = f"{sandbox_url}/api/3"
            bare = plain_gets(urls, headers, args.workers)
            peer_first = peer_pass(base_url, headers, references, args.workers)
            first_rate, first = engine_pass(args.profile == "first")
            report(connection, args, "refresh_first_sync", first_rate, peer_first, bare, first)

            engine_rates, peer_rates, bare_rates, last = [], [], [], None
            for round_number in range(args.rounds):
                bare_rates.append(plain_gets(urls, headers, args.workers))
                peer_rates.append(peer_pass(base_url, headers, references, args.workers))
                profile = args.profile == "mirrored" and round_number == args.rounds - 1
                rate, last = engine_pass(profile)
                engine_rates.append(rate)
            report(
                connection,
                args,
                "refresh_mirrored",
                statistics.median(engine_rates),
                statistics.median(peer_rates),
                statistics.median(bare_rates),
                last,
            )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        stop_server(proc)


def report(connection, args, name, rate, peer, bare, summary) -> None:
    print(
        json.dumps(
            {
                "bench": name,
                "database": connection.vendor,
                "orders": args.orders,
                "workers": args.workers,
                "fetched": summary.fetched,
                "changed": summary.changed,
                "failed": summary.failed,
                "orders_per_second": round(rate, 1),
                "peer_orders_per_second": round(peer, 1),
                "ratio": round(rate / peer, 2),
                "bare_get_orders_per_second": round(bare, 1),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
