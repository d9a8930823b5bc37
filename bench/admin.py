"""Render time of the order changelist with 10 000 orders, beside Django's default ModelAdmin.

Both pages list the same 10 000 orders in the same run: ours (badges, links,
time zones, five filters, date hierarchy, actions) on the normal admin site,
and a plain ``ModelAdmin`` for the same model registered on a second
``AdminSite``. Prints one JSON object per line: each page's median render
time and query count, then the ratio.

    python bench/admin.py [--orders 10000] [--rounds 15]

Uses the test settings (SQLite by default; ``DATABASE_URL`` for PostgreSQL)
and a throw-away test database.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import types
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.contrib import admin  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    override_settings,
    setup_test_environment,
)
from django.urls import clear_url_caches, include, path  # noqa: E402
from django.utils import timezone  # noqa: E402

from django_shipping_orders.models import Order  # noqa: E402

STATES = ("processing", "order_placed", "ready_for_pickup", "in_transit", "completed", "cancelled")
COURIERS = ("CouriersPlease", "Australia Post", "StarTrack", "Aramex", "")


def _orders(count: int) -> None:
    now = timezone.now()
    Order.objects.bulk_create(
        [
            Order(
                account=("sydney", "melbourne")[i % 2],
                reference=f"PPBENCH{i:06d}",
                retailer_reference=f"SHOP-{i:06d}",
                state=STATES[i % len(STATES)],
                receiver_name=f"Receiver {i}",
                delivery_suburb="Sydney",
                delivery_postcode=f"{2000 + i % 900}",
                delivery_timezone=("Australia/Sydney", "Australia/Perth", "")[i % 3],
                courier_allocation=COURIERS[i % len(COURIERS)],
                courier_job_id=f"CJ{i:08d}" if i % 5 else "",
                tracking_url=f"https://track.example/{i}" if i % 5 else "",
                pickup_at=now + timedelta(hours=i % 72) if i % 4 else None,
                label=f"shipping_labels/sydney/PPBENCH{i:06d}.pdf" if i % 3 else "",
                last_synced_at=now - timedelta(minutes=i % 600),
                raw={"tracking_number": f"PPBENCH{i:06d}", "state": STATES[i % len(STATES)]},
            )
            for i in range(count)
        ],
        batch_size=1000,
    )


def _measure(client: Client, url: str, rounds: int) -> tuple[float, int]:
    client.get(url)  # warm caches (templates, permissions)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    query_count = len(queries)  # now: the next request resets the query log
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200
    return statistics.median(times) * 1000, query_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    plain_site = admin.AdminSite(name="plain")
    plain_site.register(Order, admin.ModelAdmin)
    urls = types.ModuleType("bench_admin_urls")
    urls.urlpatterns = [  # type: ignore[attr-defined]
        path("admin/", admin.site.urls),
        path("plain/", plain_site.urls),
        path("shipping/", include("django_shipping_orders.urls")),
    ]
    # A database of our own: never the test database another run may be using.
    test_settings = connection.settings_dict.setdefault("TEST", {})
    test_settings["NAME"] = (
        None if connection.vendor == "sqlite" else f"bench_shipping_orders_{os.getpid()}"
    )
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with override_settings(ROOT_URLCONF=urls):
            clear_url_caches()
            _orders(args.orders)
            user = User.objects.create_superuser("bench", "bench@example.com", "bench")
            client = Client()
            client.force_login(user)
            ours_ms, ours_queries = _measure(client, "/admin/shipping_orders/order/", args.rounds)
            plain_ms, plain_queries = _measure(client, "/plain/shipping_orders/order/", args.rounds)
            common = {"orders": args.orders, "rounds": args.rounds, "db": connection.vendor}
            print(
                json.dumps(
                    {
                        "bench": "admin_changelist",
                        "page": "OrderAdmin",
                        **common,
                        "median_ms": round(ours_ms, 1),
                        "queries": ours_queries,
                    }
                )
            )
            print(
                json.dumps(
                    {
                        "bench": "admin_changelist",
                        "page": "plain ModelAdmin",
                        **common,
                        "median_ms": round(plain_ms, 1),
                        "queries": plain_queries,
                    }
                )
            )
            print(
                json.dumps(
                    {
                        "bench": "admin_changelist",
                        "summary": True,
                        **common,
                        "ours_ms": round(ours_ms, 1),
                        "plain_ms": round(plain_ms, 1),
                        "ratio": round(ours_ms / plain_ms, 2),
                    }
                )
            )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
