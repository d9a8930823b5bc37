"""A database that restarts under a callback: the receipt waits for the drain, never ``failed``.

A restart, a failover or a dropped connection is "not now": the receipt stays
``received`` with a time to try again, and the drain applies it once the
database is back. Writes whose commit may have taken are not tried again blindly.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError
from django.db.models import QuerySet
from django.utils import timezone

from django_shipping_orders import sync, transient
from django_shipping_orders.callbacks import process_pending
from django_shipping_orders.models import CallbackReceipt, Order

from .conftest import order_document, post

pytestmark = pytest.mark.django_db

Status = CallbackReceipt.Status

#: What drivers say while a server restarts or after it went away.
LOST = [
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
    "the database system is not yet accepting connections",
    "server closed the connection unexpectedly",
    "terminating connection due to administrator command",
    "the connection is lost",
]


class _DriverError(Exception):
    """A driver's error carrying a SQLSTATE, as psycopg's do."""

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _failing_apply(times: int, error: Exception) -> Any:
    real = sync.apply_document
    calls = {"left": times}

    def apply(*args: Any, **kwargs: Any) -> Any:
        if calls["left"]:
            calls["left"] -= 1
            raise error
        return real(*args, **kwargs)

    return apply


@pytest.mark.parametrize("message", LOST)
def test_a_callback_meeting_a_lost_connection_is_kept_for_the_drain(client, monkeypatch, message):
    monkeypatch.setattr(sync, "apply_document", _failing_apply(1, OperationalError(message)))
    monkeypatch.setattr("time.sleep", lambda seconds: None)

    response = post(client, order_document("PPLOST1", 1))

    assert response.status_code == 202  # stored; applied shortly
    receipt = CallbackReceipt.objects.get()
    assert receipt.status == Status.RECEIVED
    assert receipt.error.startswith("transient, will be tried again")
    assert receipt.next_attempt_at is not None
    earlier = timezone.now() - timedelta(minutes=2)  # its wait is over; left behind inline
    CallbackReceipt.objects.update(next_attempt_at=earlier, received_at=earlier)
    assert process_pending() == {Status.PROCESSED: 1}
    assert Order.objects.filter(reference="PPLOST1").exists()


@pytest.mark.parametrize("sqlstate", ["08006", "08001", "57P01", "57P03"])
def test_lost_connection_codes_are_transient(sqlstate):
    error = OperationalError("the driver's words")
    error.__cause__ = _DriverError("connection exception", sqlstate)
    assert transient.is_transient(error)
    assert not transient.is_transient(error, lost_connection=False)


def test_mysql_server_gone_away_is_transient():
    assert transient.is_transient(OperationalError(2006, "MySQL server has gone away"))
    assert transient.is_transient(OperationalError(2013, "Lost connection to server"))


def test_an_error_that_will_happen_again_is_not_transient():
    assert not transient.is_transient(OperationalError("no such column: foo"))
    assert not transient.is_transient(ValueError("the database system is not a word list"))


def test_a_write_whose_commit_may_have_taken_is_not_tried_again():
    calls: list[int] = []

    def write() -> None:
        calls.append(1)
        raise OperationalError("server closed the connection unexpectedly")

    with pytest.raises(OperationalError):
        transient.retrying(write, first_delay=0)
    assert calls == [1]


def test_a_database_still_down_when_the_failure_is_recorded_still_answers_202(client, monkeypatch):
    lost = OperationalError("connection failed: Connection refused")
    monkeypatch.setattr(sync, "apply_document", _failing_apply(1, lost))
    real_update = QuerySet.update

    def update(self: QuerySet[Any], **values: Any) -> int:
        if self.model is CallbackReceipt and str(values.get("error", "")).startswith("transient"):
            raise OperationalError("connection failed: Connection refused")  # still down
        return real_update(self, **values)

    monkeypatch.setattr(QuerySet, "update", update)

    response = post(client, order_document("PPLOST2", 1))

    # Not "failed": nothing was recorded, the receipt is as stored, and the drain takes it.
    assert response.status_code == 202
    assert response.json()["status"] == "received"
    receipt = CallbackReceipt.objects.get()
    assert (receipt.status, receipt.attempts, receipt.error) == (Status.RECEIVED, 0, "")
    monkeypatch.setattr(QuerySet, "update", real_update)
    CallbackReceipt.objects.update(received_at=timezone.now() - timedelta(minutes=2))
    assert process_pending() == {Status.PROCESSED: 1}
