"""Callbacks per second through ``CallbackView``, beside the view a shop would write without the app.

Both views get the same bodies through the same Django stack (test client,
no middleware) in the same process and run, timed in interleaved rounds so
that load from other processes hits both alike:

- ``CallbackView`` authenticates, stores the receipt, checks for a
  duplicate, and applies the document (order, parcels, products, state event,
  the order clock) in its own transaction;
- the naive peer (:func:`naive_view`) is what a competent developer writes
  in an afternoon: check the secret header, ``json.loads`` the body and, in
  one ``transaction.atomic()``, ``update_or_create`` the order and then each
  parcel and product by (order, position). It writes the app's own
  ``Order``, ``Parcel`` and ``Product`` tables (same columns and indexes;
  its rows live under another account), so both sides pay for the same rows.
  It keeps no receipt, no history and no clock: stale data overwrites newer.

Scenarios: ``new`` (every callback is an order never seen) and ``update``
(every callback moves a known order to its next state and re-sends the same
parcels, as providers do), with 1, 20 and 50 parcels; each inline
(``CALLBACK_PROCESSING = "inline"``) and deferred (the view stores and
answers 202; the drain applies the receipts afterwards, timed on its own).
One JSON object per line: our rate, the peer's rate, their ratio, the
queries per callback, and (deferred) the drain's rate beside the inline
rate of the same scenario timed right after it (``drain_vs_inline``). ``json_only_rate_per_s`` is a view that
only parses the body: the ceiling of the stack. On PostgreSQL, inline, also
the WAL flushes per callback of each side (``pg_stat_wal.wal_sync``: the
server's counter, so other load on the server adds to both).

    python bench/callbacks.py [--callbacks 400] [--profile]

Runs on a throw-away SQLite file in WAL mode with ``synchronous=NORMAL`` (the
usual production pragmas); ``DATABASE_URL=postgres://…`` (or ``mysql://…``)
runs on that server in a throw-away database named by ``TEST_DATABASE_NAME``.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import gc
import hmac
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from copy import deepcopy
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "bench-callback-secret"
WORKDIR = Path(tempfile.mkdtemp(prefix="shipping-callbacks-bench-"))
atexit.register(shutil.rmtree, WORKDIR, ignore_errors=True)
URL = "/shipping/callbacks/bench/"
PROFILE_PARCELS = int(os.environ.get("PROFILE_PARCELS", "1"))
PROFILE_SCENARIO = os.environ.get("PROFILE_SCENARIO", "update")


def database() -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL", "")
    if url:
        from tests.settings import _database

        return _database(url)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(WORKDIR / "bench.sqlite3"),
        "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
    }


def configure() -> None:
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only",
        USE_TZ=True,
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__ if __name__ == "__main__" else "callbacks",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "rest_framework",
            "django_q",
            "django_shipping_orders",
        ],
        MIDDLEWARE=[],
        DATABASES={"default": database()},
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        # Tasks are queued in the database and not run: no cluster in this process.
        Q_CLUSTER={"name": "bench", "orm": "default", "sync": False, "timeout": 60, "retry": 120},
        LOGGING_CONFIG=None,
        SHIPPING_ORDERS={
            "ACCOUNTS": {
                "bench": {
                    "PROVIDER": "shippit",
                    "API_KEY": "bench-api-key",
                    "BASE_URL": "http://127.0.0.1:9/api/3",
                    "CALLBACK_SECRETS": [SECRET],
                }
            },
            "LABEL_ROOT": str(WORKDIR / "labels"),
        },
    )


import django  # noqa: E402
from django.conf import settings as django_settings  # noqa: E402

if not django_settings.configured:
    configure()
    django.setup()

from django.db import transaction  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

from django_shipping_orders.models import Order, Parcel, Product  # noqa: E402
from tests.states import SHIPPIT_HAPPY_PATH  # noqa: E402

_ORDER_FIELDS = {f.name for f in Order._meta.concrete_fields} - {"id", "account", "reference"}
_USER_FIELDS = {"email": "user_email", "first_name": "user_first_name"}
_USER_FIELDS |= {"last_name": "user_last_name", "mobile": "user_mobile"}


@csrf_exempt
def naive_view(request: HttpRequest) -> HttpResponse:
    """The peer: authenticate, parse, ``update_or_create`` the order and each of its lines."""
    presented = request.headers.get("X-Shipping-Callback-Secret", "")
    if not hmac.compare_digest(presented.encode(), SECRET.encode()):
        return JsonResponse({"error": "forbidden"}, status=403)
    payload = json.loads(request.body)
    defaults = {key: value for key, value in payload.items() if key in _ORDER_FIELDS}
    for key, name in _USER_FIELDS.items():
        defaults[name] = (payload.get("user_attributes") or {}).get(key, "")
    defaults["is_return"] = bool(payload.get("return"))
    defaults["raw"] = payload
    with transaction.atomic():
        order, _ = Order.objects.update_or_create(
            account="peer", reference=payload["tracking_number"], defaults=defaults
        )
        for position, parcel in enumerate(payload.get("parcel_attributes") or []):
            Parcel.objects.update_or_create(
                order=order, position=position, defaults={**parcel, "raw": parcel}
            )
        for position, product in enumerate(payload.get("product_attributes") or []):
            Product.objects.update_or_create(
                order=order, position=position, defaults={**product, "raw": product}
            )
    return JsonResponse({"status": "ok"})


@csrf_exempt
def json_only_view(request: HttpRequest) -> JsonResponse:
    """The least a callback endpoint can do: read the body as JSON and say 200."""
    from django_shipping_orders.documents import loads

    payload = loads(request.body)
    return JsonResponse({"status": "ok", "keys": len(payload)})


urlpatterns = [
    path("shipping/", include("django_shipping_orders.urls")),
    path("naive/", naive_view),
    path("baseline/", json_only_view),
]

STATES = SHIPPIT_HAPPY_PATH
START = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)
FIXTURE = json.loads((ROOT / "tests" / "fixtures" / "get_order_200.json").read_text())


def document(reference: str, parcels: int, step: int = 0) -> bytes:
    """The documented Get Order body with ``parcels`` parcels, at state ``STATES[step]``."""
    payload = deepcopy(FIXTURE)
    payload["tracking_number"] = reference
    payload["state"] = STATES[step]
    payload["status_history"] = [
        {"status": STATES[i], "time": (START + timedelta(minutes=10 * i)).isoformat()}
        for i in range(step, -1, -1)
    ]
    parcel = payload["parcel_attributes"][0]
    payload["parcel_attributes"] = [
        {**deepcopy(parcel), "label_number": f"{reference}-{i:02d}"} for i in range(parcels)
    ]
    return json.dumps(payload).encode()


def post_all(client: Any, url: str, bodies: list[bytes]) -> float:
    """Seconds to post every body; raises if any answer is not 200 (or 202, deferred).

    The garbage collector is run before and kept off during the timed loop (as
    ``timeit`` does): otherwise a collection triggered by one side's
    allocations lands in whichever side runs next.
    """
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        for body in bodies:
            response = client.post(
                url, data=body, content_type="application/json",
                HTTP_X_SHIPPING_CALLBACK_SECRET=SECRET,
            )  # fmt: skip
            if response.status_code not in (200, 202):
                raise SystemExit(
                    f"{url} answered {response.status_code}: {response.content[:300]!r}"
                )
        return time.perf_counter() - started
    finally:
        gc.enable()


def bodies_for(scenario: str, parcels: int, count: int, run: str, step: int = 1) -> list[bytes]:
    """``count`` bodies: new orders, or ``count / 5`` known orders each walked through 5 states."""
    if scenario == "new":
        return [document(f"PP{run}{parcels:02d}N{i:06d}", parcels) for i in range(count)]
    orders = max(1, count // (len(STATES) - 1))
    return [
        document(f"PP{run}{parcels:02d}U{i:06d}", parcels, state)
        for state in range(step, len(STATES))
        for i in range(orders)
    ][:count]


def seed(client: Any, scenario: str, parcels: int, count: int, run: str) -> None:
    """For ``update``: the orders at their first state, on both sides."""
    if scenario == "update":
        first = bodies_for("update", parcels, count, run, step=0)[: max(1, count // 5)]
        post_all(client, URL, first)
        post_all(client, "/naive/", first)


def timed_rounds(client: Any, bodies: list[bytes], urls: list[str]) -> list[float]:
    """Seconds per URL over eight interleaved rounds of ``bodies``."""
    rounds = 8
    size = -(-len(bodies) // rounds)
    seconds = [0.0] * len(urls)
    for start in range(0, len(bodies), size):
        for index, url in enumerate(urls):
            seconds[index] += post_all(client, url, bodies[start : start + size])
    return seconds


def flushes_per_callback(client: Any, scenario: str, parcels: int, run: str) -> dict[str, float]:
    """PostgreSQL: WAL flushes (``pg_stat_wal.wal_sync``) per inline callback, ours and the peer's.

    The counter is the server's: other load on the same server adds to both.
    """
    from django.db import connection

    def flushes() -> int:
        with connection.cursor() as cursor:
            # A backend reports its counts lazily: make it report them before they are read.
            cursor.execute("SELECT pg_stat_force_next_flush()")
            cursor.execute("SELECT wal_sync FROM pg_stat_wal")
            return int(cursor.fetchone()[0])

    figures = {}
    for name, url in (
        ("wal_flushes_per_callback", URL),
        ("peer_wal_flushes_per_callback", "/naive/"),
    ):
        seed(client, scenario, parcels, 50, run + name[0])
        sample = bodies_for(scenario, parcels, 50, run + name[0])
        before = flushes()
        post_all(client, url, sample)
        figures[name] = round((flushes() - before) / len(sample), 2)
    return figures


def queries_per_callback(client: Any, scenario: str, parcels: int, run: str) -> float:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    seed(client, scenario, parcels, 10, run)
    sample = bodies_for(scenario, parcels, 10, run)
    with CaptureQueriesContext(connection) as queries:
        post_all(client, URL, sample)
    return round(len(queries) / len(sample), 2)


def measure(client: Any, scenario: str, parcels: int, count: int, mode: str) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import override_settings

    from django_shipping_orders.callbacks import process_pending

    run = f"{mode[0].upper()}{scenario[0].upper()}"
    processing = {**django_settings.SHIPPING_ORDERS, "CALLBACK_PROCESSING": mode}
    with override_settings(SHIPPING_ORDERS=processing):
        seed(client, scenario, parcels, count, run)
        process_pending()
        bodies = bodies_for(scenario, parcels, count, run)
        seconds, peer_seconds, json_seconds = timed_rounds(
            client, bodies, [URL, "/naive/", "/baseline/"]
        )
        figures = {
            "bench": "callbacks",
            "database": django_settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
            "mode": mode,
            "scenario": scenario,
            "parcels": parcels,
            "callbacks": count,
            "rate_per_s": round(count / seconds, 1),
            "peer_rate_per_s": round(count / peer_seconds, 1),
            "ratio": round(peer_seconds / seconds, 3),
            "json_only_rate_per_s": round(count / json_seconds, 1),
        }
        if mode == "deferred":
            figures |= drain_beside_inline(client, scenario, parcels, count, run)
        figures["queries_per_callback"] = queries_per_callback(client, scenario, parcels, run + "Q")
        if mode == "inline" and connection.vendor == "postgresql":
            figures |= flushes_per_callback(client, scenario, parcels, run + "F")
        process_pending()
    return figures


def drain_beside_inline(
    client: Any, scenario: str, parcels: int, count: int, run: str
) -> dict[str, Any]:
    """The drain's rate over the receipts just stored, beside the inline rate in the same minute.

    Inline callbacks of the same scenario (other orders, seeded first) are
    timed right after the drain, so that both meet the same machine load.
    """
    from django.test.utils import override_settings

    from django_shipping_orders.callbacks import process_pending
    from django_shipping_orders.models import CallbackReceipt

    inline = {**django_settings.SHIPPING_ORDERS, "CALLBACK_PROCESSING": "inline"}
    with override_settings(SHIPPING_ORDERS=inline):
        seed(client, scenario, parcels, count, run + "I")
    waiting = CallbackReceipt.objects.filter(status="received").count()
    gc.collect()
    started = time.perf_counter()
    counts = process_pending()
    drained = time.perf_counter() - started
    if counts.get("processed", 0) != waiting:
        raise SystemExit(f"the drain processed {counts}, expected {waiting} receipts")
    with override_settings(SHIPPING_ORDERS=inline):
        inline_seconds = post_all(client, URL, bodies_for(scenario, parcels, count, run + "I"))
    drain_rate, inline_rate = waiting / drained, count / inline_seconds
    return {
        "drain_rate_per_s": round(drain_rate, 1),
        "inline_rate_per_s": round(inline_rate, 1),
        "drain_vs_inline": round(drain_rate / inline_rate, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--callbacks", type=int, default=400, help="per scenario (default 400)")
    parser.add_argument("--parcels", type=int, nargs="*", default=[1, 20, 50])
    parser.add_argument("--modes", nargs="*", default=["inline", "deferred"])
    parser.add_argument("--profile", action="store_true", help="print a cProfile of our side")
    args = parser.parse_args()

    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    if os.environ.get("DATABASE_URL"):
        connection.creation.create_test_db(verbosity=0, autoclobber=True)
        atexit.register(connection.creation.destroy_test_db, connection.settings_dict["NAME"], 0)
    else:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    client = Client()
    warm = [document(f"PPWARM{i}", 1) for i in range(20)]
    for url in (URL, "/naive/", "/baseline/"):
        post_all(client, url, warm)  # imports, URL and statement caches
    if args.profile:
        profile(client, args.callbacks)
        return
    for mode in args.modes:
        for scenario in ("new", "update"):
            for parcels in args.parcels:
                figures = measure(client, scenario, parcels, args.callbacks, mode)
                print(json.dumps(figures), flush=True)


def profile(client: Any, count: int) -> None:
    """cProfile of inline callbacks (``PROFILE_SCENARIO``, ``PROFILE_PARCELS``): where the time goes."""
    seed(client, PROFILE_SCENARIO, PROFILE_PARCELS, count, "PR")
    bodies = bodies_for(PROFILE_SCENARIO, PROFILE_PARCELS, count, "PR")
    profiler = cProfile.Profile()
    profiler.enable()
    post_all(client, URL, bodies)
    profiler.disable()
    stats = pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative"))
    stats.print_stats(45)
    for pattern in os.environ.get("PROFILE_CALLEES", "").split(","):
        if pattern:
            stats.print_callees(pattern)


if __name__ == "__main__":
    main()
