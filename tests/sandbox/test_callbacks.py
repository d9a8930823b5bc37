"""Callbacks pushed by the sandbox, received by a real local HTTP server."""

from __future__ import annotations

import time

import pytest
import requests

from django_shipping_orders.sandbox import pytest_plugin
from django_shipping_orders.sandbox.receiver import CallbackReceiver
from tests.states import SHIPPIT_HAPPY_PATH, SHIPPIT_WEBHOOK_PATH

shipping_sandbox = pytest_plugin.shipping_sandbox

ORDER = {
    "retailer_reference": "#OD7",
    "retailer_order_number": "WEB-7",
    "delivery_address": "1 Test Street",
    "parcel_attributes": [{"qty": 1, "weight": 1}],
    "product_attributes": [{"sku": "S1", "title": "Mug", "quantity": 1, "price": 5}],
}


@pytest.fixture
def receiver():
    with CallbackReceiver() as r:
        yield r


def place(sandbox, key: str, dialect: str = "shippit") -> str:
    base = sandbox.shippit_url if dialect == "shippit" else sandbox.senderlv_url
    r = requests.post(
        f"{base}/orders",
        json={"order": ORDER},
        headers={"Authorization": f"Bearer {key}"},
        timeout=5,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    return body["response"]["tracking_number"] if dialect == "shippit" else body["order_reference"]


def run_to_completion(sandbox) -> None:
    sandbox.process_all()
    sandbox.advance(3 * 86400)
    assert sandbox.wait_for_callbacks(5)


def test_senderlv_callback_is_sent_once_when_processing_ends(shipping_sandbox, receiver):
    shipping_sandbox.cancel_share = 0
    shipping_sandbox.add_account(
        "lv", "senderlv", callback_url=receiver.url, secret_header="X-Secret", secret="s3"
    )
    ref = place(shipping_sandbox, "lv", "senderlv")
    assert receiver.wait_for(1, timeout=0.2) == []  # nothing while processing

    run_to_completion(shipping_sandbox)
    time.sleep(0.15)
    assert len(receiver.received) == 1
    callback = receiver.received[0]
    assert callback.headers["Content-Type"] == "application/json"
    assert callback.headers["X-Secret"] == "s3"
    body = callback.json()
    assert body["order_reference"] == ref and body["state"] == "accepted"
    assert body["courier_job_id"] and body["label_url"]
    assert shipping_sandbox.stats()["callbacks"]["sent"] == 1


def test_senderlv_callback_also_reports_a_cancelled_order(shipping_sandbox, receiver):
    shipping_sandbox.cancel_share = 1
    shipping_sandbox.add_account("lv", "senderlv", callback_url=receiver.url)
    ref = place(shipping_sandbox, "lv", "senderlv")
    run_to_completion(shipping_sandbox)
    bodies = receiver.bodies()
    assert [(b["order_reference"], b["state"]) for b in bodies] == [(ref, "cancelled")]


def test_shippit_webhook_on_every_state_change_with_secret_header(shipping_sandbox, receiver):
    shipping_sandbox.cancel_share = 0
    shipping_sandbox.add_account(
        "k1", callback_url=receiver.url, secret_header="X-Shippit-Secret", secret="hush"
    )
    tn = place(shipping_sandbox, "k1")
    run_to_completion(shipping_sandbox)
    received = receiver.wait_for(4)
    assert len(received) == 4  # only for states the webhook schema lists
    assert all(r.headers["X-Shippit-Secret"] == "hush" for r in received)
    bodies = [r.json() for r in received]
    assert [b["current_state"] for b in bodies] == SHIPPIT_WEBHOOK_PATH
    last = bodies[-1]
    assert last["tracking_number"] == tn and last["retailer_reference"] == "#OD7"
    assert last["retailer_order_number"] == "WEB-7" and last["courier_job_id"]
    assert last["courier_name"] and last["tracking_url"].endswith(f"/tracking/{tn}")
    assert last["products"] == [
        {"quantity": 1, "sku": "S1", "title": "Mug", "product_line_id": None}
    ]
    history = [h["status"] for h in last["status_history"]]
    assert history[:6] == list(reversed(SHIPPIT_HAPPY_PATH))
    assert last["status_history"][0]["time"] >= last["status_history"][1]["time"]


def test_failed_callbacks_are_counted_not_retried(shipping_sandbox, receiver):
    receiver.status = 500
    shipping_sandbox.cancel_share = 1
    shipping_sandbox.add_account("k1", callback_url=receiver.url)
    place(shipping_sandbox, "k1")
    run_to_completion(shipping_sandbox)
    time.sleep(0.15)
    assert len(receiver.received) == 1
    assert shipping_sandbox.stats()["callbacks"]["failed"] == 1


def test_drop_callbacks_sends_nothing(shipping_sandbox, receiver):
    shipping_sandbox.set_faults(drop_callbacks=1)
    shipping_sandbox.cancel_share = 0
    shipping_sandbox.add_account("k1", callback_url=receiver.url)
    place(shipping_sandbox, "k1")
    run_to_completion(shipping_sandbox)
    assert receiver.received == []
    assert shipping_sandbox.stats()["callbacks"]["dropped"] == len(SHIPPIT_WEBHOOK_PATH)


def test_duplicate_callbacks_sends_each_twice(shipping_sandbox, receiver):
    shipping_sandbox.set_faults(duplicate_callbacks=1)
    shipping_sandbox.cancel_share = 0
    shipping_sandbox.add_account("lv", "senderlv", callback_url=receiver.url)
    place(shipping_sandbox, "lv", "senderlv")
    run_to_completion(shipping_sandbox)
    received = receiver.wait_for(2)
    assert len(received) == 2 and received[0].body == received[1].body
    assert shipping_sandbox.stats()["callbacks"]["duplicated"] == 1


def test_reorder_callbacks_lets_later_states_arrive_first(shipping_sandbox, receiver):
    shipping_sandbox.set_faults(reorder_callbacks=True, reorder_max_delay=0.3)
    shipping_sandbox.cancel_share = 0
    shipping_sandbox.add_account("k1", callback_url=receiver.url)
    refs = [place(shipping_sandbox, "k1") for _ in range(3)]
    run_to_completion(shipping_sandbox)
    bodies = [r.json() for r in receiver.wait_for(12)]
    assert len(bodies) == 12
    arrival = {
        ref: [b["current_state"] for b in bodies if b["tracking_number"] == ref] for ref in refs
    }
    assert all(sorted(states) == sorted(SHIPPIT_WEBHOOK_PATH) for states in arrival.values())
    assert any(states != SHIPPIT_WEBHOOK_PATH for states in arrival.values())
