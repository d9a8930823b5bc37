"""A drain chunk sends its writes together, and they are the rows one receipt at a time writes.

Statements are counted (``CaptureQueriesContext`` logs an ``executemany`` as
one), never timed. What a user checks: the orders, their lines and events,
and every receipt's outcome are the same whether a body was applied inline,
alone, or in a chunk.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from django_shipping_orders.callbacks import queue
from django_shipping_orders.models import CallbackReceipt, Order, OrderEvent, Parcel, Product
from tests.states import SHIPPIT_HAPPY_PATH

from .conftest import order_document, post

pytestmark = pytest.mark.django_db(transaction=True)

Status = CallbackReceipt.Status
START = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def deferred(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.SHIPPING_ORDERS = {**settings.SHIPPING_ORDERS, "CALLBACK_PROCESSING": "deferred"}
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kw: None)


def _body(reference: str, step: int, parcels: int = 2, **changes: Any) -> dict[str, Any]:
    history = [
        {"status": SHIPPIT_HAPPY_PATH[i], "time": (START + timedelta(minutes=10 * i)).isoformat()}
        for i in range(step, -1, -1)
    ]
    return order_document(
        reference, parcels, state=SHIPPIT_HAPPY_PATH[step], status_history=history, **changes
    )


def _writes_to(statements: list[str], model: Any, verb: str) -> int:
    """Statements ``verb`` on ``model``'s table; Django logs an ``executemany`` as "N times: …"."""
    table = connection.ops.quote_name(model._meta.db_table)
    return sum(
        1 for sql in statements if re.sub(r"^\d+ times: ", "", sql).startswith(f"{verb} {table}")
    )


def _drain() -> tuple[dict[str, int], list[str]]:
    with CaptureQueriesContext(connection) as queries:
        counts = queue.process_pending()
    return counts, [query["sql"] for query in queries]


def test_a_chunk_of_new_orders_writes_lines_events_and_outcomes_in_one_statement_each(
    client: Client, deferred: None
):
    for index in range(4):
        post(client, _body(f"PPHELDNEW{index}", 0, parcels=3))

    counts, statements = _drain()

    assert counts == {"processed": 4}
    if connection.features.can_return_rows_from_bulk_insert:
        assert _writes_to(statements, Order, "INSERT INTO") == 1
    assert _writes_to(statements, Parcel, "INSERT INTO") == 1
    assert _writes_to(statements, Product, "INSERT INTO") == 1
    assert _writes_to(statements, OrderEvent, "INSERT INTO") == 1
    assert _writes_to(statements, CallbackReceipt, "UPDATE") == 1
    assert not [sql for sql in statements if sql.startswith("SAVEPOINT")]
    assert Parcel.objects.count() == 12
    assert OrderEvent.objects.count() == 4
    for order in Order.objects.all():  # each new order's lines, events and receipt are its own
        assert order.parcels.count() == 3
        assert order.events.get().receipt.order_id == order.pk
        assert CallbackReceipt.objects.get(reference=order.reference).order_id == order.pk
    assert set(CallbackReceipt.objects.values_list("status", "attempts")) == {(Status.PROCESSED, 1)}


def test_a_chunk_of_updates_writes_each_order_once_however_many_receipts_it_had(
    client: Client, deferred: None
):
    for index in range(3):
        post(client, _body(f"PPHELDUPD{index}", 0))
    queue.process_pending()
    for step in (1, 2):  # two receipts per order in one chunk, applied in order
        for index in range(3):
            post(client, _body(f"PPHELDUPD{index}", step))

    counts, statements = _drain()

    assert counts == {"processed": 6}
    assert _writes_to(statements, Order, "UPDATE") == 1
    assert _writes_to(statements, OrderEvent, "INSERT INTO") == 1
    for index in range(3):
        order = Order.objects.get(reference=f"PPHELDUPD{index}")
        assert order.state == SHIPPIT_HAPPY_PATH[2]
        assert list(order.events.order_by("pk").values_list("from_state", "to_state")) == [
            ("", SHIPPIT_HAPPY_PATH[0]),
            (SHIPPIT_HAPPY_PATH[0], SHIPPIT_HAPPY_PATH[1]),
            (SHIPPIT_HAPPY_PATH[1], SHIPPIT_HAPPY_PATH[2]),
        ]


def test_an_older_receipt_after_a_newer_one_in_the_same_chunk_changes_nothing(
    client: Client, deferred: None
):
    post(client, _body("PPHELDCLOCK", 0))
    queue.process_pending()
    post(client, _body("PPHELDCLOCK", 2, receiver_name="Newer"))
    post(client, _body("PPHELDCLOCK", 1, receiver_name="Older"))

    assert queue.process_pending() == {"processed": 1, "ignored": 1}

    order = Order.objects.get(reference="PPHELDCLOCK")
    assert (order.state, order.receiver_name) == (SHIPPIT_HAPPY_PATH[2], "Newer")
    assert order.events.count() == 2


def _odd_lines(reference: str, step: int, label: str) -> dict[str, Any]:
    """Values that need fitting: text too long, a number too large, a decimal with many places."""
    parcel = {"qty": 2**70, "length": "12.345678", "weight": 1, "label_number": label * 200}
    product = {"title": "T" * 300, "quantity": -(2**70), "price": "9.87654", "sku": "S"}
    return _body(
        reference,
        step,
        parcels=0,
        parcel_attributes=[parcel, {**parcel, "label_number": "short"}],
        product_attributes=[product, {"title": "plain", "quantity": 3}],
    )


def _lines(reference: str) -> list[list[tuple[Any, ...]]]:
    order = Order.objects.get(reference=reference)
    skip = {"id", "order"}
    return [
        [
            tuple(
                getattr(row, f.attname) for f in model._meta.concrete_fields if f.name not in skip
            )
            for row in model.objects.filter(order=order).order_by("position")
        ]
        for model in (Parcel, Product)
    ]


def test_lines_written_by_a_chunk_are_the_rows_inline_processing_writes(
    client: Client, settings: Any, deferred: None
):
    for step, label in ((0, "A"), (1, "B")):  # new, then changed lines (deleted and inserted)
        post(client, _odd_lines("PPHELDODDDRAIN", step, label))
    assert queue.process_pending() == {"processed": 2}
    settings.SHIPPING_ORDERS = {**settings.SHIPPING_ORDERS, "CALLBACK_PROCESSING": "inline"}
    for step, label in ((0, "A"), (1, "B")):
        post(client, _odd_lines("PPHELDODDINLINE", step, label))

    drained, inline = _lines("PPHELDODDDRAIN"), _lines("PPHELDODDINLINE")
    assert drained == inline
    assert drained[0][0][1] is None  # the too-large qty left out (after the position)
    drained_order = Order.objects.get(reference="PPHELDODDDRAIN")
    inline_order = Order.objects.get(reference="PPHELDODDINLINE")
    assert drained_order.parcels_digest == inline_order.parcels_digest
    assert drained_order.products_digest == inline_order.products_digest


def test_a_new_order_inserted_by_another_delivery_after_the_chunk_locked_is_updated(
    client: Client, settings: Any, deferred: None, monkeypatch: pytest.MonkeyPatch
):
    """The chunk's INSERT has no savepoint: losing the race undoes the chunk, taken one by one."""
    from django_shipping_orders.callbacks import chunks

    post(client, _body("PPHELDRACE", 2, receiver_name="Newer"))
    post(client, _body("PPHELDCALM", 0))
    real_lock = chunks._lock_orders

    def lock_then_lose_the_race(chunk: Any) -> Any:
        held = real_lock(chunk)
        # As if another delivery committed the order after this chunk's lock statement ran.
        held.pop(("default", "PPHELDRACE"))
        return held

    Order.objects.create(account="default", reference="PPHELDRACE", state="order_placed")

    monkeypatch.setattr(chunks, "_lock_orders", lock_then_lose_the_race)

    assert queue.process_pending() == {"processed": 2}

    order = Order.objects.get(reference="PPHELDRACE")
    assert (order.state, order.receiver_name) == (SHIPPIT_HAPPY_PATH[2], "Newer")
    assert Order.objects.filter(reference="PPHELDCALM").count() == 1
    assert set(CallbackReceipt.objects.values_list("status", "attempts")) == {(Status.PROCESSED, 1)}


def test_a_new_order_and_a_change_of_its_parcels_in_one_chunk_keep_the_newer_lines(
    client: Client, deferred: None
):
    post(client, _body("PPHELDTWICE", 0, parcels=3))
    post(client, _body("PPHELDTWICE", 1, parcels=2, receiver_name="Later"))

    assert queue.process_pending() == {"processed": 2}

    order = Order.objects.get(reference="PPHELDTWICE")
    assert (order.state, order.receiver_name) == (SHIPPIT_HAPPY_PATH[1], "Later")
    assert list(order.parcels.order_by("position").values_list("position", flat=True)) == [0, 1]
    assert order.events.count() == 2
    assert set(CallbackReceipt.objects.values_list("order_id", flat=True)) == {order.pk}
