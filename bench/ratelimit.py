"""The rate limit as the provider counts it: the sandbox's arrival meter, busiest real-time window.

The sandbox runs in this process with the account's limit (``--rate``, e.g.
``60/60s``) enforced and metered on the real clock: every API request's
arrival is recorded per key, the busiest window reported, and requests above
the limit refused with 429, as Shippit does. ``--orders`` orders are placed
(unmetered), made due, and refreshed by:

- ``no_limiter`` (the baseline, same run): the engine with the client's
  limit set far above the provider's, no waiting, no retries: what reaches the
  provider when nothing holds the client back;
- ``wait_command``: one ``refresh_shipping_orders --wait`` (in this process);
- ``wait_command_with_faults``: the same under 30 % injected faults, half 429
  (``Retry-After: 1``) and half 5xx, retried (``MAX_RETRIES`` 8);
- ``qclusters_and_command``: three real ``qcluster`` processes (Redis broker,
  the limit in the Redis cache, PostgreSQL) taking a ``refresh_order`` task
  per order and due runs, while a ``refresh_shipping_orders --all-open
  --wait`` command fetches the same orders. Needs ``DATABASE_URL=postgres://…``
  and Redis at ``REDIS_URL``; otherwise reported as skipped.

Prints one JSON object per line: limit, busiest window, requests the provider
received, 429s it sent for the limit (``refused_by_the_limit``), orders
refreshed, seconds, ``ratio`` = busiest window / limit (at most 1 when the
limit holds) and ``baseline_busiest_window`` from ``no_limiter``.

    python bench/ratelimit.py                      # 60/60s, 100 orders: a few minutes
    python bench/ratelimit.py --rate 20/10s --orders 40
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402
from _common import BENCH_ORDER  # noqa: E402
from django.conf import settings  # noqa: E402

API_KEY = "bench-ratelimit-key"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")

ENQUEUE = """
import django
django.setup()
from django_q.tasks import async_task
for pk in {ids}:
    async_task("django_shipping_orders.tasks.refresh_order", pk)
for _ in range(20):
    async_task("django_shipping_orders.tasks.refresh_due_orders")
"""


def redis_works() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except Exception:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", default="60/60s", help="requests/window, e.g. 60/60s")
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    count_text, window_text = args.rate.split("/")
    limit, window = int(count_text), float(window_text.rstrip("s"))

    use_redis = redis_works()
    if use_redis:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": REDIS_URL,
                "KEY_PREFIX": f"bench-ratelimit-{uuid.uuid4().hex[:8]}",
            }
        }
    # Label downloads queued for a cluster (never run here), as in production.
    settings.Q_CLUSTER = {
        "name": "bench-ratelimit",
        "orm": "default",
        "sync": False,
        "timeout": 60,
        "retry": 120,
    }
    django.setup()
    from django.core.cache import caches
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import override_settings
    from django.utils import timezone

    from django_shipping_orders import refresh, services
    from django_shipping_orders.models import Order
    from django_shipping_orders.sandbox import SandboxServer

    test_settings = connection.settings_dict.setdefault("TEST", {})
    if connection.vendor != "sqlite":
        test_settings["NAME"] = f"bench_ratelimit_{os.getpid()}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    sandbox = SandboxServer("127.0.0.1", 0, speed=0.0, seed=args.seed, cancel_share=0)
    sandbox.start()
    sandbox.add_account(API_KEY)

    def shipping(rate: str, **extra: object) -> dict:
        account = {
            "PROVIDER": "sandbox",
            "API_KEY": API_KEY,
            "BASE_URL": sandbox.shippit_url,
            "RATE_LIMIT": rate,
            "MAX_RETRIES": 0,
            **extra,
        }
        return {"ACCOUNTS": {"default": account}, "REFRESH_WORKERS": 4, "SINGLE_PROCESS": True}

    def run(name: str, orders: list[Order], work, baseline: int | None) -> int:
        Order.objects.filter(pk__in=[o.pk for o in orders]).update(
            next_refresh_at=timezone.now() - timezone.timedelta(seconds=1), lease_expires_at=None
        )
        caches["default"].clear()
        sandbox.meter.reset()
        sandbox.reset_stats()
        since = timezone.now()
        started = time.perf_counter()
        work()
        seconds = time.perf_counter() - started
        meter = sandbox.stats()["meter"]
        busiest = meter["busiest"].get(API_KEY, 0)
        refreshed = Order.objects.filter(
            pk__in=[o.pk for o in orders], last_synced_at__gte=since
        ).count()
        line = {
            "bench": f"ratelimit_{name}",
            "database": connection.vendor,
            "cache": "redis" if use_redis else "locmem",
            "limit": f"{limit}/{window:g}s",
            "busiest_window": busiest,
            "requests": meter["requests"].get(API_KEY, 0),
            "refused_by_the_limit": meter["refused"].get(API_KEY, 0),
            "injected_faults": sandbox.stats()["faults"],
            "orders": len(orders),
            "orders_refreshed": refreshed,
            "seconds": round(seconds, 1),
            "ratio": round(busiest / limit, 3),
            "baseline_busiest_window": baseline if baseline is not None else busiest,
        }
        print(json.dumps(line), flush=True)
        return busiest

    try:
        with override_settings(SHIPPING_ORDERS=shipping("100000000/m")):
            orders = [services.place_order("default", BENCH_ORDER) for _ in range(args.orders)]
        sandbox.set_faults(rate_limit=limit, rate_window=window, rate_clock="real")

        with override_settings(SHIPPING_ORDERS=shipping("100000000/m")):
            baseline = run("no_limiter", orders, lambda: refresh.refresh_due(), None)

        rate = f"{limit}/{window:g}s"
        with override_settings(SHIPPING_ORDERS=shipping(rate)):
            run(
                "wait_command",
                orders,
                lambda: call_command("refresh_shipping_orders", "--wait", stdout=StringIO()),
                baseline,
            )
        sandbox.set_faults(throttle_rate=0.15, fail_rate=0.15, seed=args.seed)
        retries = {"MAX_RETRIES": 8, "BACKOFF_FACTOR": 0.1, "BACKOFF_MAX": 2.0}
        with override_settings(SHIPPING_ORDERS=shipping(rate, **retries)):
            run(
                "wait_command_with_faults",
                orders,
                lambda: call_command(
                    "refresh_shipping_orders", "--wait", stdout=StringIO(), stderr=StringIO()
                ),
                baseline,
            )
        sandbox.set_faults(throttle_rate=0.0, fail_rate=0.0)

        if connection.vendor != "postgresql" or not use_redis:
            why = "needs DATABASE_URL=postgres://… and Redis at REDIS_URL"
            print(json.dumps({"bench": "ratelimit_qclusters_and_command", "skipped": why}))
        else:
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "tests.settings_qcluster",
                "PYTHONPATH": str(ROOT),
                "SHIPPING_TEST_DB_NAME": connection.settings_dict["NAME"],
                "QCLUSTER_NAME": f"bench-rl-{uuid.uuid4().hex[:8]}",
                "QCLUSTER_SANDBOX_URL": sandbox.shippit_url,
                "QCLUSTER_SANDBOX_KEY": API_KEY,
                "QCLUSTER_RATE_LIMIT": rate,
                "REDIS_URL": REDIS_URL,
            }

            def clusters_and_command() -> None:
                clusters = [
                    subprocess.Popen(
                        [sys.executable, "-m", "django", "qcluster"],
                        cwd=ROOT,
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    for _ in range(3)
                ]
                try:
                    ids = [order.pk for order in orders]
                    code = ENQUEUE.format(ids=ids)
                    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
                    command = [sys.executable, "-m", "django", "refresh_shipping_orders"]
                    subprocess.run(
                        [*command, "--all-open", "--wait"],
                        cwd=ROOT,
                        env=env,
                        check=True,
                        capture_output=True,
                    )
                    deadline = time.monotonic() + 4 * window + 60
                    while time.monotonic() < deadline:
                        due = Order.objects.filter(
                            pk__in=ids, next_refresh_at__lte=timezone.now()
                        ).exists()
                        busy = Order.objects.filter(pk__in=ids, lease_expires_at__isnull=False)
                        if not due and not busy.exists():
                            break
                        time.sleep(0.5)
                finally:
                    for cluster in clusters:
                        cluster.terminate()
                    for cluster in clusters:
                        try:
                            cluster.wait(20)
                        except subprocess.TimeoutExpired:
                            cluster.kill()

            # The clusters read their settings from tests.settings_qcluster (Redis cache).
            run("qclusters_and_command", orders, clusters_and_command, baseline)
    finally:
        sandbox.stop()
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
