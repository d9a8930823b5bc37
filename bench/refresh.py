"""Throughput of the refresh engine, beside plain ``requests`` GETs of the same URLs in the same run.

Starts the sandbox in its own process (no latency, no rate limit, clock
frozen), places ``--orders`` orders through ``services.place_order``, lets the
sandbox process them all, and mirrors them once. Then, ``--rounds`` times:

- engine: every order is made due and ``refresh.refresh_due()`` runs with
  ``--workers`` threads: claim with leases, the shared rate limiter (the
  account's RATE_LIMIT is set far above the load), GET, ``apply_document``,
  lease release;
- baseline: ``--workers`` threads sharing one ``requests.Session`` GET the
  same ``/orders/{ref}`` URLs with the same headers, and do nothing else.

The first full sync of every order (parcels, products, events and label
download tasks created) is timed too, beside its own baseline. Medians are
reported. Prints one JSON object per line:

{"bench": "refresh_due", "database": ..., "orders": ..., "workers": ...,
 "orders_per_second": ..., "baseline_orders_per_second": ..., "ratio": ...}

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
        "--profile", action="store_true", help="Print a profile of the last engine pass to stderr."
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
            references = list(Order.objects.values_list("reference", flat=True))
            urls = [f"{sandbox_url}/api/3/orders/{ref}" for ref in references]
            headers = {"Authorization": f"Bearer {API_KEY}", "Accept": "application/json"}
            plain_gets(urls[:200], headers, args.workers)  # warm-up

            def make_due() -> None:
                past = Order.objects.all()
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

            base_first = plain_gets(urls, headers, args.workers)
            first_rate, first = engine_pass()
            report(connection, args, "refresh_due_first_sync", first_rate, base_first, first)

            engine_rates, plain_rates, last = [], [], None
            for round_number in range(args.rounds):
                plain_rates.append(plain_gets(urls, headers, args.workers))
                rate, last = engine_pass(args.profile and round_number == args.rounds - 1)
                engine_rates.append(rate)
            report(
                connection,
                args,
                "refresh_due",
                statistics.median(engine_rates),
                statistics.median(plain_rates),
                last,
            )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        stop_server(proc)


def report(connection, args, name, rate, baseline, summary) -> None:
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
                "baseline_orders_per_second": round(baseline, 1),
                "ratio": round(rate / baseline, 3),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
