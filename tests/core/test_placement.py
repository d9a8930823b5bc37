"""Placing an order while its callbacks arrive: one row per provider order, never a raw DB error.

A provider may call back before it answers the POST that created the order,
its answer may be lost, and the database may refuse a write at any moment
(SQLite says "database is locked" when another process writes). What a user
checks: ``place_order`` returns an order or raises a typed error, and each
provider order has exactly one row.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_shipping_orders import callbacks, services, sync
from django_shipping_orders.exceptions import (
    OrderNotSent,
    ProviderTimeout,
    ShippingOrdersError,
    SubmissionOutcomeUnknown,
)
from django_shipping_orders.models import CallbackReceipt, Order
from django_shipping_orders.providers import get_provider
from tests.conftest import load_fixture

from .helpers import account

pytestmark = pytest.mark.django_db

Status = CallbackReceipt.Status
CALLBACK_SECRET = "cb-secret-never-shown"  # helpers.account_settings

NEW_ORDER = {
    "retailer_reference": "SHOP-2001",
    "retailer_order_number": "2001",
    "receiver_name": "Receiver Name",
    "delivery_address": "1 Test Street",
    "delivery_postcode": "2000",
    "parcel_attributes": [{"qty": 1, "weight": 2.5}],
}


def _answer(reference: str = "PPNEW2001", state: str = "processing") -> dict[str, Any]:
    body = load_fixture("get_order_200.json") | {
        "tracking_number": reference,
        "state": state,
        "retailer_reference": "SHOP-2001",
    }
    return {"response": body}


def _webhook(reference: str = "PPNEW2001", state: str = "ready_for_pickup") -> dict[str, Any]:
    """The provider's webhook for the new order: it echoes the shop's references."""
    return {
        "tracking_number": reference,
        "current_state": state,
        "retailer_reference": "SHOP-2001",
        "retailer_order_number": "2001",
        "status_history": [{"status": state, "time": timezone.now().isoformat()}],
    }


def _call_back(body: dict[str, Any]) -> Any:
    return Client().post(
        reverse("shipping_orders:callback", args=["default"]),
        data=json.dumps(body),
        content_type="application/json",
        HTTP_X_SHIPPING_CALLBACK_SECRET=CALLBACK_SECRET,
    )


@pytest.fixture
def shippit(scripted_server):
    with account(scripted_server.url + "/api/3"):
        yield scripted_server


def _overtaken_by(monkeypatch: pytest.MonkeyPatch, body: dict[str, Any]) -> None:
    """The provider's callback arrives while the POST is still waiting for its answer."""
    provider = get_provider("default")
    real = provider.place_order

    def place_and_call_back(order):
        answer = real(order)
        response = _call_back(body)
        assert response.status_code == 200, response.content
        return answer

    monkeypatch.setattr(provider, "place_order", place_and_call_back)


def test_a_callback_overtaking_the_answer_completes_the_row_being_placed(shippit, monkeypatch):
    shippit.add(200, _answer())
    _overtaken_by(monkeypatch, _webhook())

    order = services.place_order("default", NEW_ORDER)

    assert Order.objects.count() == 1
    order.refresh_from_db()
    assert order.reference == "PPNEW2001"
    assert order.placement == Order.Placement.SUBMITTED
    # The webhook is newer than the POST's answer (sent before it): its state stays.
    assert order.state == "ready_for_pickup"
    receipt = CallbackReceipt.objects.get()
    assert (receipt.status, receipt.order_id) == (Status.PROCESSED, order.pk)


def test_a_callback_after_a_lost_answer_completes_the_unknown_row(shippit, monkeypatch):
    def timing_out(order):
        raise ProviderTimeout("no answer in time", account="default")

    monkeypatch.setattr(get_provider("default"), "place_order", timing_out)
    with pytest.raises(SubmissionOutcomeUnknown):
        services.place_order("default", NEW_ORDER)
    assert Order.objects.get().placement == Order.Placement.UNKNOWN

    assert _call_back(_webhook()).status_code == 200

    order = Order.objects.get()
    assert (order.reference, order.placement) == ("PPNEW2001", Order.Placement.SUBMITTED)
    assert order.state == "ready_for_pickup"


def test_a_callback_without_the_shops_reference_gets_its_own_row_and_placing_keeps_it(
    shippit, monkeypatch
):
    shippit.add(200, _answer())
    body = _webhook()
    del body["retailer_reference"], body["retailer_order_number"]
    _overtaken_by(monkeypatch, body)

    order = services.place_order("default", NEW_ORDER)

    assert Order.objects.count() == 1
    assert Order.objects.get().pk == order.pk
    assert (order.reference, order.placement) == ("PPNEW2001", Order.Placement.SUBMITTED)


def test_a_database_error_after_the_post_is_an_unknown_outcome_with_the_row_kept(
    shippit, monkeypatch
):
    shippit.add(200, _answer())

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(sync, "finish_placement", locked)
    with pytest.raises(SubmissionOutcomeUnknown) as caught:
        services.place_order("default", NEW_ORDER)

    assert caught.value.reference == "PPNEW2001"
    assert "Do not place it again" in str(caught.value)
    assert len(shippit.requests) == 1  # never re-sent
    order = Order.objects.get()
    assert order.placement == Order.Placement.UNKNOWN
    assert order.reference == "PPNEW2001"
    assert "database is locked" in order.last_error
    assert order.next_refresh_at is not None  # the next refresh mirrors it
    # The order's callback then lands on that row.
    monkeypatch.undo()
    assert _call_back(_webhook()).status_code == 200
    order = Order.objects.get()
    assert (order.state, order.placement) == ("ready_for_pickup", Order.Placement.SUBMITTED)


def test_any_error_once_the_post_may_have_left_is_an_unknown_outcome(shippit, monkeypatch):
    def broken(order):
        raise KeyError("an adapter bug after sending")

    monkeypatch.setattr(get_provider("default"), "place_order", broken)
    with pytest.raises(SubmissionOutcomeUnknown):
        services.place_order("default", NEW_ORDER)
    assert Order.objects.get().placement == Order.Placement.UNKNOWN


def test_a_database_error_before_the_post_is_order_not_sent(shippit, monkeypatch):
    def locked(*args, **kwargs):
        raise OperationalError("disk I/O error")

    monkeypatch.setattr(sync, "begin_placement", locked)
    with pytest.raises(OrderNotSent) as caught:
        services.place_order("default", NEW_ORDER)

    assert isinstance(caught.value, ShippingOrdersError)
    assert shippit.requests == []
    assert not Order.objects.exists()


@pytest.mark.django_db(transaction=True)  # retried only outside a transaction
def test_a_transient_lock_is_tried_again_before_it_reaches_the_caller(shippit, monkeypatch):
    shippit.add(200, _answer())
    real = sync.finish_placement
    calls = []

    def locked_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("database is locked")
        return real(*args, **kwargs)

    monkeypatch.setattr(sync, "finish_placement", locked_once)
    order = services.place_order("default", NEW_ORDER)

    assert (order.reference, order.placement) == ("PPNEW2001", Order.Placement.SUBMITTED)
    assert len(calls) == 2


def test_a_transient_database_error_on_a_callback_leaves_it_for_the_drain(
    shippit, monkeypatch, time_machine
):
    real = sync.apply_document

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(sync, "apply_document", locked)
    response = _call_back(_webhook("PPLOCKED"))

    assert response.status_code == 202
    assert response.json()["status"] == "received"
    receipt = CallbackReceipt.objects.get()
    assert receipt.status == Status.RECEIVED
    assert receipt.error.startswith("transient")
    assert receipt.next_attempt_at > timezone.now()
    # Not tried again in a loop: a drain right now leaves it waiting ...
    monkeypatch.setattr(sync, "apply_document", real)
    assert callbacks.process_pending() == {}
    # ... and takes it once its time has come (the every-minute schedule).
    time_machine.move_to(timezone.now() + timedelta(minutes=5), tick=False)
    assert callbacks.process_pending() == {"processed": 1}
    assert Order.objects.get().reference == "PPLOCKED"
    assert not CallbackReceipt.objects.reprocessable(failed=True).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_placement_and_callbacks_leave_one_row_per_order(shippit, monkeypatch):
    """Twenty orders; each one's callback races the POST's answer on another connection."""
    references = [f"PPRACE{index:02d}" for index in range(20)]
    for reference in references:
        shippit.add(200, _answer(reference))
    provider = get_provider("default")
    real = provider.place_order
    racers: list[threading.Thread] = []
    answers: list[int] = []

    def call_back(body: dict[str, Any]) -> None:
        try:
            answers.append(_call_back(body).status_code)
        finally:
            connections.close_all()

    def place_and_race(order):
        answer = real(order)
        body = _webhook(answer.reference) | {
            "retailer_reference": order["retailer_reference"],
            "retailer_order_number": order["retailer_order_number"],
        }
        racer = threading.Thread(target=call_back, args=(body,))
        racer.start()
        racers.append(racer)
        return answer

    monkeypatch.setattr(provider, "place_order", place_and_race)
    outcomes = []
    for index, _reference in enumerate(references):
        payload = {
            **NEW_ORDER,
            "retailer_reference": f"SHOP-R{index}",
            "retailer_order_number": f"R{index}",
        }
        try:
            outcomes.append(services.place_order("default", payload).reference)
        except ShippingOrdersError as err:
            outcomes.append(type(err).__name__)
    for racer in racers:
        racer.join(30)

    assert outcomes == references
    assert all(status in (200, 202) for status in answers), answers
    callbacks.process_pending()
    assert sorted(Order.objects.values_list("reference", flat=True)) == references
    assert not Order.objects.exclude(placement=Order.Placement.SUBMITTED).exists()
