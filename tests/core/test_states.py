"""Every documented state: stored as sent, ranked, final or not, needing a person or not."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from django_shipping_orders import policy, refresh, states
from django_shipping_orders.admin.display import state_badge
from django_shipping_orders.models import Order, Source
from django_shipping_orders.providers import get_provider
from django_shipping_orders.sync import apply_document
from tests.conftest import load_fixture

#: Shippit's webhook schema, current_state: "Possible enumerations are ..." (27).
DOCUMENTED = [
    "processing", "ready_for_pickup", "in_transit", "with_customs", "with_driver", "completed",
    "parcel_completed", "partially_completed", "pickup_failed", "invalidated", "cancelled",
    "untrackable", "delivery_attempted", "delivery_failed", "insufficient_address",
    "awaiting_collection", "await_collection", "awaiting_drop_off", "customs_awaiting_paym",
    "customs_failed", "customs_on_hold", "damaged", "lost", "return_requested", "return_booked",
    "return_booking_failed", "returned_to_sender",
]  # fmt: skip
FINAL = {
    "completed",
    "cancelled",
    "untrackable",
    "invalidated",
    "returned_to_sender",
    "lost",
    "damaged",
}
NEEDS_A_PERSON = {
    "lost", "damaged", "delivery_failed", "insufficient_address", "customs_awaiting_paym",
    "customs_failed", "customs_on_hold", "pickup_failed", "return_requested", "return_booked",
    "return_booking_failed", "returned_to_sender",
}  # fmt: skip


def test_the_vocabulary_is_the_documented_one():
    assert len(DOCUMENTED) == 27
    assert set(DOCUMENTED) == states.WEBHOOK_STATES
    assert set(states.STATES) == {*DOCUMENTED, "order_placed", "despatch_in_progress", "accepted"}
    assert states.FINAL_STATES == FINAL
    assert states.ATTENTION_STATES == NEEDS_A_PERSON


def test_the_happy_path_ranks_in_order():
    path = ["processing", "order_placed", "despatch_in_progress", "ready_for_pickup"]
    path += ["in_transit", "with_customs", "with_driver", "completed"]
    ranks = [states.rank(state) for state in path]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    # A return comes after delivery, and after the return flow nothing more.
    assert states.rank("completed") < states.rank("return_requested")
    assert states.rank("return_booked") < states.rank("returned_to_sender")


@pytest.mark.django_db
@pytest.mark.parametrize("state", DOCUMENTED)
def test_each_documented_state_is_stored_ranked_and_final_as_documented(state):
    provider = get_provider("default")
    webhook = load_fixture("shippit/webhook_mapped.json") | {
        "tracking_number": f"PP-{state}",
        "current_state": state,
        "status_history": [{"status": state, "time": "2026-01-05T10:00:00.000Z"}],
    }

    apply_document("default", provider.parse_document(webhook), Source.CALLBACK)

    order = Order.objects.get(reference=f"PP-{state}")
    assert order.state == state
    assert states.rank(state) is not None
    assert states.is_final(state) is (state in FINAL)
    assert states.needs_attention(state) is (state in NEEDS_A_PERSON)
    assert order.is_final is (state in FINAL)
    assert (order.next_refresh_at is None) is (state in FINAL)
    assert "(unknown state)" not in states.label(state)
    assert "so-badge--unknown" not in state_badge(state)
    assert ("so-badge--problem" in state_badge(state)) is (state in NEEDS_A_PERSON)


@pytest.mark.django_db
@pytest.mark.parametrize("state", sorted(FINAL))
@responses.activate
def test_an_order_in_a_final_state_is_never_polled_again(state):
    long_ago = timezone.now() - timedelta(days=1)
    order = Order.objects.create(
        account="default", reference="PPFINAL", state=state, next_refresh_at=long_ago
    )

    summary = refresh.refresh_due()

    assert summary.selected == 0 and len(responses.calls) == 0
    assert policy.next_refresh_at(order, now=timezone.now()) is None
    assert not Order.objects.due().exists()


@pytest.mark.django_db
def test_an_unknown_state_is_stored_and_shown_as_unknown():
    provider = get_provider("default")
    webhook = {"tracking_number": "PPNEW", "current_state": "teleported"}

    apply_document("default", provider.parse_document(webhook), Source.CALLBACK)

    order = Order.objects.get(reference="PPNEW")
    assert order.state == "teleported"
    assert order.next_refresh_at is not None  # polled like an order in transit
    assert states.label("teleported") == "Teleported (unknown state)"
    assert "so-badge--unknown" in state_badge("teleported")


@pytest.mark.django_db
def test_a_return_after_delivery_is_the_providers_newer_word():
    provider = get_provider("default")

    def webhook(state: str, time: str) -> None:
        body = {"tracking_number": "PPRET", "current_state": state}
        body["status_history"] = [{"status": state, "time": time}]
        document = provider.parse_document(body).pushed(timezone.now())
        apply_document("default", document, Source.CALLBACK)

    webhook("completed", "2026-01-05T10:00:00Z")
    webhook("return_requested", "2026-01-07T10:00:00Z")
    webhook("in_transit", "2026-01-04T10:00:00Z")  # late and older: ignored

    order = Order.objects.get(reference="PPRET")
    assert order.state == "return_requested" and order.needs_attention
    assert order.next_refresh_at is not None  # the return flow is followed again
