"""Callbacks from the sandbox into the app's own callback view, over loopback.

pytest-django's ``live_server`` serves the project; the sandbox POSTs
Shippit's webhooks (every state change, secret in a header) and Sender.lv's
once-only callback (secret in the URL) to ``shipping_orders:callback``. What a
user checks: receipts stored, orders moved, duplicates and stale deliveries
changing nothing, lost callbacks made up for by polling.
"""

from __future__ import annotations

import pytest
import requests
from django.urls import reverse

from django_shipping_orders import services
from django_shipping_orders.models import CallbackReceipt, Order, OrderEvent
from tests.states import SHIPPIT_WEBHOOK_PATH

from .conftest import API_KEYS, CALLBACK_SECRETS, SECRETS, SENDERLV, SHIPPIT, order_payload

pytestmark = pytest.mark.django_db(transaction=True)

Status = CallbackReceipt.Status


@pytest.fixture
def callbacks(shop, live_server):
    """Both sandbox accounts call back into the live project, with their secrets."""
    sandbox = shop.sandbox
    sandbox.add_account(
        API_KEYS[SHIPPIT],
        "shippit",
        callback_url=live_server.url + reverse("shipping_orders:callback", args=[SHIPPIT]),
        secret_header="X-Shipping-Callback-Secret",
        secret=CALLBACK_SECRETS[SHIPPIT],
    )
    token_path = reverse(
        "shipping_orders:callback-token", args=[SENDERLV, CALLBACK_SECRETS[SENDERLV]]
    )
    sandbox.add_account(API_KEYS[SENDERLV], "senderlv", callback_url=live_server.url + token_path)
    sandbox.cancel_share = 0
    return sandbox


def run_to_completion(sandbox) -> None:
    """Process every order, then let three days pass; wait for the callbacks to land."""
    sandbox.process_all()
    sandbox.advance(3 * 86400)
    assert sandbox.wait_for_callbacks(10)


def test_shippit_webhooks_land_as_receipts_and_move_the_order_to_completed(shop, callbacks):
    order = services.place_order(SHIPPIT, order_payload())

    run_to_completion(callbacks)

    order.refresh_from_db()
    receipts = list(CallbackReceipt.objects.order_by("pk"))
    assert callbacks.stats()["callbacks"]["sent"] == len(SHIPPIT_WEBHOOK_PATH)
    # The accelerated sandbox may let a poll see a later state before a webhook about an
    # earlier one arrives: that webhook is then stale (the order clock) and ignored.
    assert len(receipts) == len(SHIPPIT_WEBHOOK_PATH)
    assert {r.status for r in receipts} <= {Status.PROCESSED, Status.IGNORED}
    assert Status.PROCESSED in {r.status for r in receipts}
    assert {r.order_id for r in receipts} == {order.pk}
    assert order.state == "completed"
    assert order.courier_job_id == callbacks.order_info(order.reference)["courier_job_id"]
    events = list(order.events.order_by("pk"))  # in the order they were recorded
    path = ["processing", *SHIPPIT_WEBHOOK_PATH]
    ranks = [path.index(e.to_state) for e in events]
    assert ranks == sorted(set(ranks)), "the state never goes back nor repeats"
    assert events[-1].to_state == "completed"


def test_senderlv_callback_arrives_once_with_the_label_and_courier_number(shop, callbacks):
    order = services.place_order(SENDERLV, order_payload())

    run_to_completion(callbacks)

    order.refresh_from_db()
    receipt = CallbackReceipt.objects.get()
    assert receipt.status == Status.PROCESSED
    assert receipt.order_id == order.pk
    assert order.state == "accepted"  # the once-only callback; polling learns the rest
    assert order.courier_job_id and order.label_url
    assert order.pickup_at is not None and order.pickup_at.tzinfo is not None
    assert [p.label_number != "" for p in order.parcels.all()] == [True, True]
    assert order.has_label  # downloaded from the sandbox once the callback named it


def test_stored_receipts_carry_no_secret(shop, callbacks):
    services.place_order(SHIPPIT, order_payload())
    services.place_order(SENDERLV, order_payload())

    run_to_completion(callbacks)

    receipts = list(CallbackReceipt.objects.all())
    assert len(receipts) == len(SHIPPIT_WEBHOOK_PATH) + 1
    for receipt in receipts:
        stored = f"{receipt.headers} {receipt.error} {bytes(receipt.body)!r}"
        for secret in SECRETS:
            assert secret not in stored


def test_wrong_callback_secret_is_refused_and_changes_nothing(shop, callbacks):
    callbacks.add_account(
        API_KEYS[SHIPPIT],
        "shippit",
        callback_url=callbacks.accounts()[0].callback_url,
        secret_header="X-Shipping-Callback-Secret",
        secret="not-the-secret",
    )
    order = services.place_order(SHIPPIT, order_payload())

    run_to_completion(callbacks)

    order.refresh_from_db()
    assert order.state == "processing"
    assert callbacks.stats()["callbacks"]["failed"] == len(SHIPPIT_WEBHOOK_PATH)
    assert set(CallbackReceipt.objects.values_list("status", flat=True)) == {Status.REJECTED}


# -- callback faults ------------------------------------------------------------------------


@pytest.mark.parametrize("alias", [SHIPPIT, SENDERLV])
def test_dropped_callbacks_never_arrive_and_polling_makes_up_for_them(shop, callbacks, alias):
    callbacks.set_faults(drop_callbacks=1)
    order = services.place_order(alias, order_payload())

    run_to_completion(callbacks)

    counted = callbacks.stats()["callbacks"]
    assert counted["dropped"] == counted["scheduled"] > 0
    assert counted["sent"] == 0
    assert not CallbackReceipt.objects.exists()
    order.refresh_from_db()
    assert order.state == "processing"

    services.refresh_order(order)

    order.refresh_from_db()
    assert order.state == "completed"
    assert order.courier_job_id


def test_duplicated_callback_is_stored_twice_and_applied_once(shop, callbacks):
    callbacks.set_faults(duplicate_callbacks=1)
    order = services.place_order(SENDERLV, order_payload())

    run_to_completion(callbacks)

    counted = callbacks.stats()["callbacks"]
    assert (counted["scheduled"], counted["duplicated"], counted["sent"]) == (1, 1, 2)
    first, second = CallbackReceipt.objects.order_by("pk")
    assert first.status == Status.PROCESSED
    assert second.status == Status.IGNORED
    assert "duplicate" in second.error
    order.refresh_from_db()
    assert order.state == "accepted"
    assert OrderEvent.objects.filter(order=order, to_state="accepted").count() == 1
    assert second.events.count() == 0


def test_duplicated_shippit_webhooks_change_nothing_the_second_time(shop, callbacks):
    callbacks.set_faults(duplicate_callbacks=1)
    order = services.place_order(SHIPPIT, order_payload())

    run_to_completion(callbacks)

    statuses = list(CallbackReceipt.objects.values_list("status", flat=True))
    assert len(statuses) == 2 * len(SHIPPIT_WEBHOOK_PATH)
    # Every second copy is a duplicate; a first copy may be stale (see the test above).
    assert statuses.count(Status.IGNORED) >= len(SHIPPIT_WEBHOOK_PATH)
    assert set(statuses) <= {Status.PROCESSED, Status.IGNORED}
    order.refresh_from_db()
    assert order.state == "completed"
    states = list(order.events.values_list("to_state", flat=True))
    assert len(states) == len(set(states)), "no state is entered twice"


def test_reordered_webhooks_end_in_the_newest_state_and_stale_ones_are_ignored(shop, callbacks):
    callbacks.set_faults(reorder_callbacks=True, reorder_max_delay=0.5)
    order = services.place_order(SHIPPIT, order_payload())

    run_to_completion(callbacks)

    receipts = list(CallbackReceipt.objects.order_by("pk"))
    arrived = [r.payload()["current_state"] for r in receipts]
    assert sorted(arrived, key=SHIPPIT_WEBHOOK_PATH.index) == SHIPPIT_WEBHOOK_PATH
    assert arrived != SHIPPIT_WEBHOOK_PATH, "the fault should have reordered this seeded run"
    order.refresh_from_db()
    assert order.state == "completed"
    # Every receipt is kept; those older than what the order holds changed nothing.
    stale = [r for r in receipts if r.status == Status.IGNORED]
    assert stale and all(r.error.startswith("stale") for r in stale)
    states = [e.to_state for e in order.events.order_by("recorded_at", "pk")]
    ranks = [SHIPPIT_WEBHOOK_PATH.index(s) for s in states if s in SHIPPIT_WEBHOOK_PATH]
    assert ranks == sorted(ranks), "the mirror never went back to an older state"


def test_callback_for_an_order_placed_elsewhere_creates_its_mirror(shop, callbacks):
    # An order placed in the provider's own dashboard: the app learns of it by callback.
    reply = requests.post(
        f"{callbacks.senderlv_url}/orders",
        json=order_payload(retailer_reference="PHONE-7", product_attributes=[]),
        headers={"Authorization": f"Bearer {API_KEYS[SENDERLV]}"},
        timeout=5,
    )
    reference = reply.json()["order_reference"]

    run_to_completion(callbacks)

    mirrored = Order.objects.get(account=SENDERLV, reference=reference)
    assert mirrored.placement == Order.Placement.REMOTE
    assert mirrored.retailer_reference == "PHONE-7"
    assert mirrored.state == "accepted"
