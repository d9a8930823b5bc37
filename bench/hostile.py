"""Hostile callback bodies: how long the answer takes, inline and deferred, beside a good body.

Each body once cost a worker minutes or stalled the deferred queue: the
68-byte ``1E+999999999`` (``int()`` of it never ends), a reference holding a
lone surrogate (text no database stores), 100 000 empty parcels (seconds and
a hundred megabytes to turn into rows). Each must now be answered 400 before
any expensive work. Prints one JSON object per body and mode: the answer,
the median time over the rounds, and the ratio to a documented webhook
posted through the same view in the same run (the baseline). Then one line
for a deferred drain of 1 000 good receipts with a poisoned one among them.

    python bench/hostile.py [--rounds 15]

Runs on a throw-away SQLite file, like bench/callbacks.py.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import callbacks as bench_callbacks
from django.core.management import call_command
from django.test import Client
from django.test.utils import override_settings, setup_test_environment

SECRET = bench_callbacks.SECRET
URL = "/shipping/callbacks/bench/"

BODIES: dict[str, bytes] = {
    "68-byte exponent": b'{"tracking_number":"X","parcel_attributes":[{"qty":1E+999999999}]}',
    "lone surrogate": b'{"tracking_number":"PP\\ud800","current_state":"in_transit"}',
    "100000 parcels": b'{"tracking_number":"PPMANY","parcel_attributes":['
    + b",".join([b"{}"] * 100_000)
    + b"]}",
}


def _webhook(reference: str) -> bytes:
    payload = json.loads(
        (bench_callbacks.ROOT / "tests" / "fixtures" / "shippit_webhook.json").read_text()
    )
    payload["tracking_number"] = reference
    return json.dumps(payload).encode()


def _post(client: Client, body: bytes) -> tuple[int, float]:
    started = time.perf_counter()
    response = client.post(
        URL, data=body, content_type="application/json", HTTP_X_SHIPPING_CALLBACK_SECRET=SECRET
    )
    return response.status_code, time.perf_counter() - started


def _median_ms(client: Client, bodies: list[bytes]) -> tuple[set[int], float]:
    statuses, times = set(), []
    for body in bodies:
        status, seconds = _post(client, body)
        statuses.add(status)
        times.append(seconds)
    return statuses, statistics.median(times) * 1000


def _drain_with_poison() -> dict[str, Any]:
    from django_shipping_orders import callbacks
    from django_shipping_orders.models import CallbackReceipt

    CallbackReceipt.objects.all().delete()
    good = [_webhook(f"PPDRAIN{i:05d}") for i in range(1000)]
    bodies = [*good[:500], BODIES["lone surrogate"], *good[500:]]
    CallbackReceipt.objects.bulk_create(
        CallbackReceipt(account="bench", body=body, dedupe_key=f"drain-{i}")
        for i, body in enumerate(bodies)
    )
    started = time.perf_counter()
    counts = callbacks.process_pending()
    return {
        "bench": "hostile",
        "case": "deferred drain, 1 poisoned among 1000",
        "counts": counts,
        "seconds": round(time.perf_counter() - started, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    setup_test_environment()
    call_command("migrate", verbosity=0)
    client = Client()
    with mock.patch("django_q.tasks.async_task", lambda *a, **k: None):
        for mode in ("inline", "deferred"):
            setting = {
                **bench_callbacks.django_settings.SHIPPING_ORDERS,
                "CALLBACK_PROCESSING": mode,
            }
            with override_settings(SHIPPING_ORDERS=setting):
                _, baseline = _median_ms(
                    client, [_webhook(f"PPBASE{mode}{i:04d}") for i in range(args.rounds)]
                )
                for name, body in BODIES.items():
                    statuses, median = _median_ms(client, [body] * args.rounds)
                    print(
                        json.dumps(
                            {
                                "bench": "hostile",
                                "mode": mode,
                                "case": name,
                                "bytes": len(body),
                                "status": sorted(statuses),
                                "median_ms": round(median, 2),
                                "baseline_ms": round(baseline, 2),
                                "ratio": round(median / baseline, 2),
                            }
                        ),
                        flush=True,
                    )
        with override_settings(
            SHIPPING_ORDERS={
                **bench_callbacks.django_settings.SHIPPING_ORDERS,
                "CALLBACK_PROCESSING": "deferred",
            }
        ):
            print(json.dumps(_drain_with_poison()), flush=True)


if __name__ == "__main__":
    main()
