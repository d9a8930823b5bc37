"""The order changelist and its search at 1 000, 10 000 and 100 000 orders, beside the defaults.

The orders are a shop's: one every five minutes, newest first, the last two
weeks' still on their way and the older ones delivered (or cancelled), so
100 000 orders hold about 4 000 open ones. At each size, in the same run and
the same database:

- ``changelist``: our order list (badges, reasons, time zones, six filters,
  the date bar, the counts on top, actions) against the same model under
  Django's default ``ModelAdmin`` on a second ``AdminSite``. Ours is timed
  warm (its counts cached, as on every page load within 30 s of another) and
  cold (cache cleared before each request, as on the first load). The three
  are timed in turn, round after round, so that load from other processes
  hits them alike;
- ``search``: finding an order by its exact reference and by a parcel's label
  number (a scanned barcode) through the admin's search, against a bare
  ``filter()`` on the same indexed column fetching the same rows. The whole
  search page (which redirects to the order) is timed too.

Prints one JSON object per line. Uses the test settings (SQLite by default;
``DATABASE_URL=postgres://…`` for PostgreSQL) and a throw-away database.

    python bench/admin.py [--orders 1000 10000 100000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import types
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.contrib import admin  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, RequestFactory  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    override_settings,
    setup_test_environment,
)
from django.urls import clear_url_caches, include, path  # noqa: E402
from django.utils import timezone  # noqa: E402

from django_shipping_orders import trigram  # noqa: E402
from django_shipping_orders.models import Order, Parcel  # noqa: E402

#: States of the orders still on their way (the last two weeks of a shop's orders).
OPEN_STATES = (
    "processing",
    "order_placed",
    "ready_for_pickup",
    "ready_for_pickup",
    "in_transit",
    "in_transit",
    "in_transit",
    "with_driver",
    "pickup_failed",
    "completed",
)
COURIERS = ("CouriersPlease", "Australia Post", "StarTrack", "Aramex", "")
_SYLLABLES = (
    "ka",
    "lo",
    "mi",
    "ren",
    "sa",
    "to",
    "vel",
    "da",
    "nor",
    "pi",
    "ste",
    "wu",
    "ga",
    "har",
)
#: Made-up surnames, each on about one order in 400; a full name is on one in 3 500.
SURNAMES = tuple(a.capitalize() + b + c for a in _SYLLABLES for b in _SYLLABLES for c in ("n", "s"))
FIRST_NAMES = ("Olivia", "Liam", "Charlotte", "Noah", "Amelia", "Jack", "Mia", "Lucas", "Isla")
#: One order every 5 minutes: 100 000 orders are a little less than a year of a shop's.
EVERY = timedelta(minutes=5)
OPEN_FOR = timedelta(days=14)


def _name(i: int) -> str:
    return f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {SURNAMES[(i * 7919) % len(SURNAMES)]}"


def _state(i: int, age: timedelta) -> str:
    if age > OPEN_FOR:  # old orders are done: delivered, or now and then cancelled
        return "cancelled" if i % 20 == 0 else "completed"
    return OPEN_STATES[i % len(OPEN_STATES)]


def _load(start: int, stop: int) -> None:
    """Orders ``start`` … ``stop - 1``, order ``i`` placed 5 minutes apart (``i`` = 0 is the newest), one parcel each."""
    now = timezone.now()
    created = Order._meta.get_field("created_at")
    created.auto_now_add = False  # type: ignore[attr-defined]  # the bench sets the dates
    batch = 5000
    try:
        for first in range(start, stop, batch):
            numbers = range(first, min(first + batch, stop))
            orders = []
            for i in numbers:
                age = EVERY * i
                state = _state(i, age)
                orders.append(
                    Order(
                        account=("sydney", "melbourne")[i % 2],
                        reference=f"PPBENCH{i:07d}",
                        retailer_reference=f"SHOP-{i:07d}",
                        state=state,
                        receiver_name=_name(i),
                        user_email=f"{_name(i).split()[0].lower()}{i}@example.com",
                        delivery_suburb="Sydney",
                        delivery_postcode=f"{2000 + i % 900}",
                        delivery_timezone=("Australia/Sydney", "Australia/Perth", "")[i % 3],
                        courier_allocation=COURIERS[i % len(COURIERS)],
                        courier_job_id=f"CJ{i:08d}" if i % 5 else "",
                        tracking_url=f"https://track.example/{i}" if i % 5 else "",
                        pickup_at=now - age + timedelta(days=1) if i % 4 else None,
                        label=f"shipping_labels/sydney/PPBENCH{i:07d}.pdf" if i % 7 else "",
                        label_printed_at=now - age + timedelta(hours=20) if i % 3 else None,
                        created_at=now - age,
                        last_synced_at=now - min(age, timedelta(hours=12)),
                        raw={"tracking_number": f"PPBENCH{i:07d}", "state": state},
                    )
                )
            Order.objects.bulk_create(orders)
            Parcel.objects.bulk_create(
                [
                    Parcel(order=order, position=0, qty=1, label_number=f"LBL{i:09d}")
                    for i, order in zip(numbers, orders, strict=True)
                ]
            )
    finally:
        created.auto_now_add = True  # type: ignore[attr-defined]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # what autovacuum does for a table in use
            cursor.execute("VACUUM ANALYZE")


def _median_ms(call: Callable[[], object], rounds: int) -> float:
    call()  # warm caches (templates, permissions, the query plan)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _interleaved(calls: list[Callable[[], object]], rounds: int) -> list[float]:
    """Median ms of each call, timed in turn round after round (load hits them alike)."""
    for call in calls:
        call()  # warm caches (templates, permissions, the query plan)
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(rounds):
        for index, call in enumerate(calls):
            started = time.perf_counter()
            call()
            times[index].append(time.perf_counter() - started)
    return [statistics.median(each) * 1000 for each in times]


def _get(client: Client, url: str, status: int = 200) -> Callable[[], object]:
    def call() -> object:
        response = client.get(url)
        assert response.status_code == status, (url, response.status_code)
        return response

    return call


def _cold(call: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        cache.clear()
        return call()

    return run


def _queries(call: Callable[[], object]) -> int:
    with CaptureQueriesContext(connection) as queries:
        call()
    return len(queries)


def _emit(**figures: object) -> None:
    print(json.dumps(figures), flush=True)


def _measure(size: int, rounds: int, client: Client, user: User) -> None:
    common = {"orders": size, "rounds": rounds, "db": connection.vendor}
    ours_url, plain_url = "/admin/shipping_orders/order/", "/plain/shipping_orders/order/"
    warm, cold, plain = _interleaved(
        [_get(client, ours_url), _cold(_get(client, ours_url)), _get(client, plain_url)], rounds
    )
    _emit(
        bench="admin_changelist",
        **common,
        ours_warm_ms=round(warm, 1),
        ours_cold_ms=round(cold, 1),
        default_modeladmin_ms=round(plain, 1),
        ratio_warm=round(warm / plain, 2),
        ratio_cold=round(cold / plain, 2),
        queries_ours_cold=_queries(_cold(_get(client, ours_url))),
        queries_default=_queries(_get(client, plain_url)),
    )

    model_admin = admin.site._registry[Order]
    request = RequestFactory().get(ours_url)
    request.user = user
    target = size // 2
    for kind, term, bare in (
        (
            "reference",
            f"PPBENCH{target:07d}",
            lambda t: list(Order.objects.filter(reference=t)[:50]),
        ),
        (
            "parcel_label_number",
            f"LBL{target:09d}",
            lambda t: list(
                Order.objects.filter(
                    pk__in=list(
                        Parcel.objects.filter(label_number=t).values_list("order", flat=True)
                    )
                )[:50]
            ),
        ),
    ):

        def search(t: str = term) -> object:
            found, _ = model_admin.get_search_results(request, Order.objects.all(), t)
            return list(found[:50])

        assert [o.pk for o in search()] == [o.pk for o in bare(term)]
        ours, baseline = _interleaved([search, lambda t=term, find=bare: find(t)], rounds * 4)
        page = _median_ms(_get(client, f"{ours_url}?q={term}", status=302), rounds)
        _emit(
            bench="admin_search",
            **common,
            by=kind,
            search_ms=round(ours, 2),
            bare_filter_ms=round(baseline, 2),
            ratio=round(ours / baseline, 2),
            search_page_ms=round(page, 1),
        )
    # A receiver's full name (one order in 3 500), and a surname alone (one in 400).
    for kind, words in (
        ("receiver_full_name", _name(target)),
        ("surname", _name(target).split()[1]),
    ):
        url = f"{ours_url}?q={words.replace(' ', '+')}"
        page = _median_ms(_get(client, url), rounds)
        figures = {"search_page_ms": round(page, 1)}
        if connection.vendor == "postgresql":
            # The same page without the trigram indexes: what they are worth.
            with connection.cursor() as cursor:
                for name in trigram.INDEXES:
                    cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
            bare = _median_ms(_get(client, url), rounds)
            trigram.create_indexes()
            figures |= {"without_trigram_ms": round(bare, 1), "ratio": round(page / bare, 2)}
        _emit(bench="admin_search", **common, by=kind, **figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[1_000, 10_000, 100_000])
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
        with override_settings(ROOT_URLCONF=urls, DEBUG=False):
            clear_url_caches()
            user = User.objects.create_superuser("bench", "bench@example.com", "bench")
            client = Client()
            client.force_login(user)
            loaded = 0
            for size in sorted(args.orders):
                _load(loaded, size)
                loaded = size
                _measure(size, args.rounds, client, user)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
