"""Callbacks per second through ``CallbackView``, beside a view that only parses the JSON.

Both views get the same bodies through the same Django stack (test client,
no middleware) in the same run. The baseline view parses the body exactly
as the callback does (``json.loads`` with Decimal numbers) and answers 200;
the callback view authenticates, stores the receipt, checks for a duplicate,
and applies the document (order, parcels, products, state event) in its
own transaction. Prints one JSON object per line per scenario:

- ``new``: every callback is an order never seen (Get Order document);
- ``update``: every callback moves a known order to its next state (the
  parcel list is re-sent unchanged, as providers do);
- ``new_deferred``: as ``new`` with ``CALLBACK_PROCESSING = "deferred"``: the
  view stores, checks and answers 202, and a task applies the receipts after
  (its rate is reported too).

for 1 and for 20 parcels, with the rate, the baseline rate, their ratio, and
the queries per callback (the same for 1 and 20 parcels).

    python bench/callbacks.py [--callbacks 400]

Runs on a throw-away SQLite file in WAL mode with ``synchronous=NORMAL``
(the usual production pragmas for SQLite); nothing else is needed.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
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
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(WORKDIR / "bench.sqlite3"),
                "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
            }
        },
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

from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

from tests.states import SHIPPIT_HAPPY_PATH  # noqa: E402


@csrf_exempt
def baseline_view(request: HttpRequest) -> JsonResponse:
    """The least a callback endpoint can do: read the body as JSON and say 200."""
    from django_shipping_orders.documents import loads

    payload = loads(request.body)
    return JsonResponse({"status": "ok", "keys": len(payload)})


urlpatterns = [
    path("shipping/", include("django_shipping_orders.urls")),
    path("baseline/", baseline_view),
]

STATES = SHIPPIT_HAPPY_PATH
START = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)


def document(reference: str, parcels: int, step: int = 0) -> bytes:
    """The documented Get Order body with ``parcels`` parcels, at state ``STATES[step]``."""
    payload = json.loads((ROOT / "tests" / "fixtures" / "get_order_200.json").read_text())
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
    allocations lands in whichever side runs next, which swung the ratio by
    half between otherwise equal runs.
    """
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        for body in bodies:
            response = client.post(
                url,
                data=body,
                content_type="application/json",
                HTTP_X_SHIPPING_CALLBACK_SECRET=SECRET,
            )
            if response.status_code not in (200, 202):
                raise SystemExit(
                    f"{url} answered {response.status_code}: {response.content[:300]!r}"
                )
        return time.perf_counter() - started
    finally:
        gc.enable()


def bodies_for(scenario: str, parcels: int, count: int, run: str) -> list[bytes]:
    if scenario == "new":
        return [document(f"PP{run}{parcels:02d}N{i:06d}", parcels) for i in range(count)]
    # update: count / 5 known orders, each walked through the five later states.
    orders = max(1, count // (len(STATES) - 1))
    return [
        document(f"PP{run}{parcels:02d}U{i:06d}", parcels, step)
        for step in range(1, len(STATES))
        for i in range(orders)
    ][:count]


def seed_updates(client: Any, url: str, parcels: int, count: int, run: str) -> None:
    orders = max(1, count // (len(STATES) - 1))
    post_all(
        client, url, [document(f"PP{run}{parcels:02d}U{i:06d}", parcels, 0) for i in range(orders)]
    )


def measure(
    client: Any, scenario: str, parcels: int, count: int, runs: tuple[str, str] = ("T", "Q")
) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = "/shipping/callbacks/bench/"
    timed_run, sample_run = runs
    if scenario == "update":
        seed_updates(client, url, parcels, count, timed_run)
        seed_updates(client, url, parcels, 10, sample_run)
    timed = bodies_for(scenario, parcels, count, timed_run)
    # Interleaved rounds: both views see the same machine load, so noise from
    # other processes hits both sides alike instead of skewing the ratio.
    rounds = 8
    size = -(-len(timed) // rounds)
    seconds = baseline_seconds = 0.0
    for start in range(0, len(timed), size):
        chunk = timed[start : start + size]
        baseline_seconds += post_all(client, "/baseline/", chunk)
        seconds += post_all(client, url, chunk)

    sample = bodies_for(scenario, parcels, 10, sample_run)
    with CaptureQueriesContext(connection) as queries:
        post_all(client, url, sample)
    rate, baseline_rate = count / seconds, count / baseline_seconds
    return {
        "bench": "callbacks",
        "scenario": scenario,
        "parcels": parcels,
        "callbacks": count,
        "body_bytes": len(timed[0]),
        "rate_per_s": round(rate, 1),
        "baseline_rate_per_s": round(baseline_rate, 1),
        "ratio": round(rate / baseline_rate, 3),
        "queries_per_callback": round(len(queries) / len(sample), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--callbacks", type=int, default=400, help="callbacks per scenario (default 400)"
    )
    args = parser.parse_args()

    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    call_command("migrate", verbosity=0)
    client = Client()
    post_all(client, "/baseline/", [document("PPWARM", 1)] * 20)  # warm imports and URL caches
    post_all(client, "/shipping/callbacks/bench/", [document(f"PPWARM{i}", 1) for i in range(20)])
    for scenario in ("new", "update"):
        for parcels in (1, 20):
            print(json.dumps(measure(client, scenario, parcels, args.callbacks)), flush=True)
    for parcels in (1, 20):
        print(json.dumps(measure_deferred(client, args.callbacks, parcels)), flush=True)


def measure_deferred(client: Any, count: int, parcels: int) -> dict[str, Any]:
    """CALLBACK_PROCESSING = "deferred": the view stores and answers 202; a task applies.

    The view's rate is what the provider sees; ``applied_per_s`` is the drain
    task applying the same receipts afterwards, and ``end_to_end_per_s`` the
    two together (one process doing both, as on a single small machine).
    """
    from django.test.utils import override_settings

    from django_shipping_orders.callbacks import process_pending
    from django_shipping_orders.models import CallbackReceipt

    deferred = {**django_settings.SHIPPING_ORDERS, "CALLBACK_PROCESSING": "deferred"}
    with override_settings(SHIPPING_ORDERS=deferred):
        result = measure(client, "new", parcels, count, runs=("D", "E"))
        waiting = CallbackReceipt.objects.filter(status="received").count()
        started = time.perf_counter()
        counts = process_pending()
        drain_seconds = time.perf_counter() - started
    if counts.get("processed", 0) != waiting:
        raise SystemExit(f"the drain processed {counts}, expected {waiting} receipts")
    view_seconds = count / result["rate_per_s"]
    return {
        **result,
        "scenario": "new_deferred",
        "applied_per_s": round(waiting / drain_seconds, 1),
        "end_to_end_per_s": round(count / (view_seconds + drain_seconds * count / waiting), 1),
    }


if __name__ == "__main__":
    main()
