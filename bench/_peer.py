"""The naive peer of the refresh bench: what a shop would write without the app.

A loop of ``requests.Session`` GETs of Get Order, each answer written with
``update_or_create`` of the order and then of each parcel and product, in the
same number of threads as the engine. It stores the order under its own
account alias, so its rows never meet the engine's. On SQLite the threads
take turns to write (one lock), as the engine's do: SQLite fails a second
writer at once instead of waiting.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from decimal import Decimal
from typing import Any

import requests
from django.db import connection, connections
from django.utils.dateparse import parse_datetime

PEER_ACCOUNT = "peer"

#: The Get Order fields a shop would show in its admin, copied as they come.
TEXT_FIELDS = (
    "state",
    "courier_type",
    "courier_allocation",
    "receiver_name",
    "receiver_contact_number",
    "retailer_reference",
    "retailer_invoice",
    "delivery_company",
    "delivery_address",
    "delivery_suburb",
    "delivery_state",
    "delivery_postcode",
    "delivery_country_code",
    "delivery_instructions",
    "courier_job_id",
    "tracking_url",
    "label_url",
)
TIME_FIELDS = ("pickup_at", "pickup_deadline_at", "dropoff_at", "dropoff_deadline_at")


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def sync_one(session: requests.Session, base_url: str, reference: str, lock: Any) -> None:
    """GET one order and write it, its parcels and its products with ``update_or_create``."""
    from django_shipping_orders.models import Order, Parcel, Product

    response = session.get(f"{base_url}/orders/{reference}", timeout=30)
    response.raise_for_status()
    body = response.json()
    data = body.get("response", body)
    defaults: dict[str, Any] = {name: data.get(name) or "" for name in TEXT_FIELDS}
    defaults.update({name: parse_datetime(data[name]) for name in TIME_FIELDS if data.get(name)})
    defaults["raw"] = data
    with lock:
        order, _ = Order.objects.update_or_create(
            account=PEER_ACCOUNT, reference=reference, defaults=defaults
        )
        for position, parcel in enumerate(data.get("parcel_attributes") or []):
            Parcel.objects.update_or_create(
                order=order,
                position=position,
                defaults={
                    "qty": parcel.get("qty"),
                    "weight": _decimal(parcel.get("weight")),
                    "label_number": parcel.get("label_number") or "",
                    "raw": parcel,
                },
            )
        for position, product in enumerate(data.get("product_attributes") or []):
            Product.objects.update_or_create(
                order=order,
                position=position,
                defaults={
                    "sku": product.get("sku") or "",
                    "title": product.get("title") or "",
                    "quantity": product.get("quantity"),
                    "price": _decimal(product.get("price")),
                    "raw": product,
                },
            )


def peer_pass(base_url: str, headers: dict[str, str], references: list[str], workers: int) -> float:
    """Orders per second of the naive peer over ``references``."""
    session = requests.Session()
    session.headers.update(headers)
    lock = threading.Lock() if connection.vendor == "sqlite" else nullcontext()

    def work(reference: str) -> None:
        sync_one(session, base_url, reference, lock)

    barrier = threading.Barrier(workers)

    def close(_: int) -> None:
        barrier.wait()  # one call per thread: each closes its own connection
        connections.close_all()

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, references))
        elapsed = time.perf_counter() - started
        list(pool.map(close, range(workers)))
    session.close()
    return len(references) / elapsed
