"""Deliveries in any order, mixed with polls: the order ends at the provider's newest word.

Each test is a failure once seen in the field, replayed with real callbacks
through the view and real polls through the provider adapter, at the times
they happened.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from django_shipping_orders import refresh, services, signals
from django_shipping_orders.callbacks import process_pending
from django_shipping_orders.models import CallbackReceipt, Order, OrderEvent

from .conftest import order_document, post, set_account

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 2, 11, 0, tzinfo=timezone.utc)


def _webhook(state: str, *steps: tuple[str, int]) -> dict:
    """A webhook for PPCLOCK in ``state``, its history (state, minutes after 11:00Z)."""
    return {
        "tracking_number": "PPCLOCK",
        "current_state": state,
        "status_history": [
            {"status": name, "time": (AT + timedelta(minutes=minutes)).isoformat()}
            for name, minutes in sorted(steps, key=lambda step: -step[1])
        ],
    }


@pytest.fixture
def provider(settings, scripted_server):
    set_account(settings, BASE_URL=scripted_server.url + "/api/3")
    return scripted_server


@pytest.fixture
def state_changes():
    seen: list[tuple[str, str]] = []

    def receiver(sender, order, from_state, to_state, **kwargs):
        seen.append((from_state, to_state))

    signals.order_state_changed.connect(receiver, weak=False)
    yield seen
    signals.order_state_changed.disconnect(receiver)


def test_a_late_webhook_older_than_a_poll_changes_nothing_and_fires_nothing(
    client, provider, time_machine, state_changes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        time_machine.move_to(AT + timedelta(minutes=1), tick=False)
        post(client, _webhook("in_transit", ("in_transit", 0)))
        # 12:30: Get Order says completed (Get Order carries no provider time).
        time_machine.move_to(AT + timedelta(minutes=90), tick=False)
        provider.add(200, {"response": order_document("PPCLOCK", state="completed")})
        services.refresh_order(Order.objects.get())
        # 12:40: the with_driver webhook of 12:00 arrives, late.
        time_machine.move_to(AT + timedelta(minutes=100), tick=False)
        late = post(client, _webhook("with_driver", ("in_transit", 0), ("with_driver", 60)))

    assert late.json()["status"] == "ignored"
    order = Order.objects.get()
    assert order.state == "completed"
    assert order.state_as_of == AT + timedelta(minutes=90)
    events = list(OrderEvent.objects.order_by("pk").values_list("to_state", flat=True))
    assert events == ["in_transit", "completed"]
    assert state_changes == [("", "in_transit"), ("in_transit", "completed")]


def test_a_poll_that_finds_the_order_unchanged_still_dates_what_it_saw(
    client, provider, time_machine, settings
):
    """Truth: ready_for_pickup, pickup_failed, ready_for_pickup again; the second poll is
    answered exactly as the first (the refresh engine's unchanged path)."""
    settings.SHIPPING_ORDERS = {**settings.SHIPPING_ORDERS, "REFRESH_WORKERS": 1}
    document = order_document("PPCLOCK", state="ready_for_pickup")
    time_machine.move_to(AT, tick=False)
    provider.add(200, {"response": document})
    order = Order.objects.create(account="default", reference="PPCLOCK")
    refresh.refresh_orders([order.pk])
    # 11:10 the pickup fails; 11:20 the order is ready again; 11:30 a poll sees that.
    time_machine.move_to(AT + timedelta(minutes=30), tick=False)
    provider.add(200, {"response": document})
    summary = refresh.refresh_orders([order.pk])
    assert summary.unchanged == 1
    # 11:35 the pickup_failed webhook of 11:10 arrives, late.
    time_machine.move_to(AT + timedelta(minutes=35), tick=False)
    late = post(client, _webhook("pickup_failed", ("pickup_failed", 10)))

    assert late.json()["status"] == "ignored"
    assert Order.objects.get().state == "ready_for_pickup"


def test_webhooks_shuffled_end_at_the_newest_with_one_event_each(client, time_machine):
    steps = [("order_placed", 0), ("ready_for_pickup", 10), ("in_transit", 20), ("completed", 30)]
    bodies = [_webhook(state, *steps[: i + 1]) for i, (state, _) in enumerate(steps)]
    time_machine.move_to(AT + timedelta(hours=1), tick=False)
    for index in (2, 0, 3, 1, 3, 2):
        post(client, bodies[index])

    order = Order.objects.get()
    assert order.state == "completed"
    events = list(order.events.order_by("pk").values_list("to_state", flat=True))
    assert events == ["in_transit", "completed"]


@pytest.mark.parametrize("mode", ["inline", "deferred"])
def test_a_timeless_webhook_sent_again_in_other_bytes_is_a_duplicate_not_news(
    client, provider, time_machine, state_changes, django_capture_on_commit_callbacks, settings,
    mode,
):  # fmt: skip
    """Without times a body is dated by its arrival: a resend re-encoded by the provider
    must not pass for news and undo the newer poll."""
    settings.SHIPPING_ORDERS = {**settings.SHIPPING_ORDERS, "CALLBACK_PROCESSING": mode}
    first = {"tracking_number": "PPCLOCK", "current_state": "in_transit", "tracking_url": "u1"}
    with django_capture_on_commit_callbacks(execute=True):
        time_machine.move_to(AT, tick=False)
        post(client, json.dumps(first).encode())
        process_pending()
        time_machine.move_to(AT + timedelta(minutes=90), tick=False)
        provider.add(200, {"response": order_document("PPCLOCK", state="completed")})
        services.refresh_order(Order.objects.get())
        # 12:40: the same webhook again, keys in another order, other spacing and escapes.
        time_machine.move_to(AT + timedelta(minutes=100), tick=False)
        again = (
            b'{ "tracking_url" : "u\\u0031",\n  "current_state": "in_transit",'
            b' "tracking_number": "PPCLOCK" }'
        )
        post(client, again)
        process_pending()

    assert CallbackReceipt.objects.order_by("pk").last().status == "ignored"
    order = Order.objects.get()
    assert order.state == "completed"
    assert list(order.events.order_by("pk").values_list("to_state", flat=True)) == [
        "in_transit",
        "completed",
    ]
    assert state_changes == [("", "in_transit"), ("in_transit", "completed")]


@pytest.mark.parametrize(
    "other",
    [
        b'{"tracking_number": "PPCLOCK", "current_state": "in_transit", "weight": 1.50}',
        b'{"tracking_number": "PPCLOCK", "current_state": "in_transit", "weight": "1.5"}',
        b'{"tracking_number": "PPCLOCK", "current_state": "in_transit", "weight": 1.5, "x": 1}',
    ],
    ids=["number-spelling", "number-as-text", "one-key-more"],
)
def test_content_that_differs_in_any_visible_way_is_not_a_duplicate(client, other):
    post(client, b'{"tracking_number": "PPCLOCK", "current_state": "in_transit", "weight": 1.5}')

    assert post(client, other).json()["status"] == "processed"


def test_key_order_that_field_map_makes_visible_is_not_a_duplicate(client, settings):
    """With two keys mapped to one field the later one counts: their order is content."""
    set_account(settings, FIELD_MAP={"status": "current_state"})
    first = b'{"tracking_number": "PPMAP", "current_state": "in_transit", "status": "processing"}'
    again = b'{"tracking_number": "PPMAP", "status": "processing", "current_state": "in_transit"}'

    post(client, first)
    assert Order.objects.get().state == "processing"
    answer = post(client, again)

    assert answer.json()["status"] == "processed"
    assert Order.objects.get().state == "in_transit"


def test_a_receipt_processed_again_is_then_known_by_its_content(client, settings, time_machine):
    """Refused at first (its reference key unknown), processed once FIELD_MAP is fixed: a resend
    of the same bytes afterwards is its duplicate, not news dated by its arrival."""
    from django_shipping_orders.callbacks import reprocess

    body = b'{"ref": "PPLATER", "current_state": "in_transit"}'
    time_machine.move_to(AT, tick=False)
    assert post(client, body).status_code == 400
    set_account(settings, FIELD_MAP={"ref": "tracking_number"})
    reprocess(CallbackReceipt.objects.values_list("pk", flat=True))
    assert Order.objects.get().state == "in_transit"
    Order.objects.update(state="completed", state_as_of=AT + timedelta(minutes=30))
    time_machine.move_to(AT + timedelta(minutes=31), tick=False)

    answer = post(client, body)

    assert answer.json()["status"] == "ignored"
    assert Order.objects.get().state == "completed"
