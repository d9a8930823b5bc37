"""Which commits wait for the disk: the stored receipt's always; the work redone from it not.

On PostgreSQL the transaction that applies a stored receipt commits without
waiting for the WAL flush (``synchronous_commit`` off for that transaction
only): a crash can lose that transaction whole, and the receipt, flushed
before, is taken again by the drain. Nothing of the setting outlives the
transaction, and a transaction a shop wraps around the app's call keeps its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from django_shipping_orders import statements
from django_shipping_orders.callbacks import process_pending, process_receipt
from django_shipping_orders.models import CallbackReceipt, Order

from .conftest import order_document, post

pytestmark = pytest.mark.django_db(transaction=True)

Status = CallbackReceipt.Status
ON_POSTGRES = connection.vendor == "postgresql"


def _commit_wait() -> str:
    """``synchronous_commit`` as the transaction running now would commit with."""
    with connection.connection.cursor() as raw:  # below Django: not a counted statement
        raw.execute("SELECT current_setting('synchronous_commit')")
        return str(raw.fetchone()[0])


@contextmanager
def commit_waits() -> Iterator[list[tuple[str, str]]]:
    """(statement's first words, the setting right after it) for every statement run."""
    seen: list[tuple[str, str]] = []

    def record(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        seen.append((" ".join(sql.split()[:3]), _commit_wait()))
        return result

    with connection.execute_wrapper(record):
        yield seen
    # COMMIT is not a statement Django runs through a cursor: after it, the session's own.
    seen.append(("after", _commit_wait()))


def _receipt_insert(seen: list[tuple[str, str]]) -> str:
    table = CallbackReceipt._meta.db_table
    return next(wait for words, wait in seen if words.startswith("INSERT") and table in words)


@pytest.mark.skipif(not ON_POSTGRES, reason="synchronous_commit is PostgreSQL's")
def test_an_inline_callback_flushes_its_receipt_and_applies_without_waiting():
    client = Client(enforce_csrf_checks=True)
    with commit_waits() as seen:
        response = post(client, order_document("PPWAIT1", 2))

    assert response.json()["status"] == "processed"
    assert _receipt_insert(seen) == "on"  # the receipt: its own commit, flushed
    assert seen[-2] == (seen[-2][0], "off")  # the outcome, last in the applying transaction
    assert seen[-2][0].startswith("UPDATE")
    assert seen[-1] == ("after", "on")  # nothing outlives that transaction
    assert Order.objects.get(reference="PPWAIT1").parcels.count() == 2


@pytest.mark.skipif(not ON_POSTGRES, reason="synchronous_commit is PostgreSQL's")
def test_the_drain_applies_a_chunk_without_waiting_and_leaves_the_session_as_it_was(
    settings, monkeypatch
):
    client = Client(enforce_csrf_checks=True)
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kw: None)  # not run yet
    settings.SHIPPING_ORDERS = {**settings.SHIPPING_ORDERS, "CALLBACK_PROCESSING": "deferred"}
    for number in range(3):
        assert post(client, order_document(f"PPWAITD{number}", 1)).status_code == 202
    with commit_waits() as seen:
        counts = process_pending()

    assert counts == {Status.PROCESSED: 3}
    receipts_table = CallbackReceipt._meta.db_table
    outcome = [wait for words, wait in seen if words == f'UPDATE "{receipts_table}" SET']
    assert outcome and outcome[-1] == "off"
    assert seen[-1] == ("after", "on")


@pytest.mark.skipif(not ON_POSTGRES, reason="synchronous_commit is PostgreSQL's")
def test_a_shops_own_transaction_around_processing_keeps_waiting_for_the_disk():
    receipt = CallbackReceipt.objects.create(
        account="default",
        body=json.dumps(order_document("PPWAITS", 1)).encode(),
        status=Status.RECEIVED,
        received_at=timezone.now(),
    )
    with transaction.atomic():  # the shop's transaction, with work of its own
        result = process_receipt(receipt)
        wait = _commit_wait()

    assert result.status == Status.PROCESSED, result.reason
    assert wait == "on"


def test_only_postgresql_gets_the_commit_clause():
    plain = statements.update_sql(CallbackReceipt, ["status"], "default")
    redoable = statements.update_sql(CallbackReceipt, ["status"], "default", redoable=True)

    if ON_POSTGRES:
        assert redoable.startswith(plain) and "synchronous_commit" in redoable
    else:
        assert redoable == plain


@pytest.mark.skipif(not ON_POSTGRES, reason="synchronous_commit is PostgreSQL's")
@pytest.mark.parametrize("was", [Status.FAILED, Status.UNPROCESSABLE])
def test_processing_a_receipt_again_waits_for_the_disk(was):
    # Lost in a crash, its outcome would fall back to `was`, which the drain never takes.
    receipt = CallbackReceipt.objects.create(
        account="default",
        body=json.dumps(order_document("PPWAITR", 1)).encode(),
        status=was,
        attempts=1,
        received_at=timezone.now(),
    )
    with commit_waits() as seen:
        result = process_receipt(receipt)

    assert result.status == Status.PROCESSED, result.reason
    outcome = [wait for words, wait in seen if words.startswith("UPDATE")]
    assert outcome[-1] == "on"
