"""apply_document: the one write path, through the Shippit adapter and on its own."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_shipping_orders import signals
from django_shipping_orders.documents import (
    ORDER_FIELDS,
    USER_FIELDS,
    parse_order_document,
    parse_timestamp,
)
from django_shipping_orders.models import (
    Order,
    OrderEvent,
    Parcel,
    PayloadEncoder,
    Product,
    Source,
)
from django_shipping_orders.providers import get_provider
from django_shipping_orders.sync import apply_document, normalize_json
from tests.conftest import load_fixture

from .helpers import account, documented_payload

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def _doc(reference="PPDOC0001", **changes):
    return parse_order_document(documented_payload(reference, **changes))


def _history(*steps):
    """A status_history (newest first) from (state, minutes after T0) pairs."""
    return [
        {"status": state, "time": (T0 + timedelta(minutes=minutes)).isoformat()}
        for state, minutes in sorted(steps, key=lambda s: -s[1])
    ]


def _counts():
    return (
        Order.objects.count(),
        Parcel.objects.count(),
        Product.objects.count(),
        OrderEvent.objects.count(),
    )


# -- the documented payload end to end -------------------------------------------------------


def test_documented_payload_through_the_shippit_adapter_mirrors_every_field(scripted_server):
    payload = documented_payload("PPDOC0001")
    scripted_server.add(
        200, {"response": load_fixture("get_order_200.json") | {"tracking_number": "PPDOC0001"}}
    )
    with account(scripted_server.url + "/api/3"):
        document = get_provider("default").get_order("PPDOC0001")
        result = apply_document("default", document, Source.REFRESH)

    assert result.created
    assert scripted_server.requests[0]["path"] == "/api/3/orders/PPDOC0001"
    order = Order.objects.get(account="default", reference="PPDOC0001")

    for key, (field, parse) in ORDER_FIELDS.items():
        if key in payload:
            expected = payload[key]
            if parse is parse_timestamp:
                expected = datetime.fromisoformat(expected)
            assert getattr(order, field) == expected, key
    assert len([key for key in ORDER_FIELDS if key in payload]) == 30
    for key, field in USER_FIELDS.items():
        assert getattr(order, field) == payload["user_attributes"][key], key
    assert order.state == "order_placed"
    assert order.is_return is False

    # Money: Decimal, never float.
    for field in ("cash_on_delivery_amount", "duties", "tax_amount"):
        assert type(getattr(order, field)) is Decimal, field
    # +11:00 datetimes keep their instant.
    sydney = timezone(timedelta(hours=11))
    assert order.pickup_at == datetime(2025, 12, 30, 8, 59, 59, tzinfo=sydney)
    assert order.pickup_at == datetime(2025, 12, 29, 21, 59, 59, tzinfo=timezone.utc)
    assert order.dropoff_deadline_at == datetime(2025, 12, 31, 8, 59, 59, tzinfo=sydney)

    (parcel,) = order.parcels.all()
    for key, value in payload["parcel_attributes"][0].items():
        assert getattr(parcel, key) == value, key
    assert type(parcel.weight) is Decimal
    (product,) = order.products.all()
    for key, value in payload["product_attributes"][0].items():
        assert getattr(product, key) == value, key
    assert type(product.price) is Decimal and product.price == Decimal("12.34")

    assert order.raw["receiver_name"] == "Receiver Name"
    assert order.last_synced_at is not None
    (event,) = order.events.all()
    assert (event.from_state, event.to_state, event.source) == ("", "order_placed", Source.REFRESH)


def test_an_order_can_be_created_with_only_account_and_reference():
    order = Order.objects.create(account="default", reference="PPONLY01")
    order.refresh_from_db()
    assert order.state == ""
    assert order.receiver_name == ""
    assert order.cash_on_delivery_amount is None
    assert order.pickup_at is None
    assert order.features == [] and order.customs_clearance_attributes == {}
    assert order.placement == Order.Placement.REMOTE


def test_a_registered_order_is_filled_by_its_first_document():
    Order.objects.create(account="default", reference="PPDOC0001")
    result = apply_document("default", _doc(), Source.REFRESH)
    assert not result.created
    assert result.order.receiver_name == "Receiver Name"
    assert Order.objects.count() == 1


# -- duplicates and stale data ---------------------------------------------------------------


def test_the_same_document_twice_changes_nothing_and_creates_nothing():
    apply_document("default", _doc(), Source.REFRESH, observed_at=T0)
    before = _counts()
    stored = Order.objects.get()
    result = apply_document(
        "default", _doc(), Source.REFRESH, observed_at=T0 + timedelta(minutes=5)
    )
    assert result.changed is False
    assert result.changed_fields == []
    assert not result.state_changed and not result.parcels_changed and not result.products_changed
    assert _counts() == before
    assert OrderEvent.objects.count() == 1
    again = Order.objects.get()
    # The provider confirmed the state five minutes later: the clock moves, nothing else.
    assert again.state_as_of == again.data_as_of == T0 + timedelta(minutes=5)
    assert stored.state_as_of == T0
    assert list(Parcel.objects.values_list("pk", flat=True)) == list(
        stored.parcels.values_list("pk", flat=True)
    )


def test_an_older_document_by_status_history_is_ignored():
    newer = _doc(
        state="in_transit", status_history=_history(("order_placed", 0), ("in_transit", 60))
    )
    older = _doc(
        state="order_placed", receiver_name="Old Name", status_history=_history(("order_placed", 0))
    )
    apply_document("default", newer.pushed(T0 + timedelta(minutes=61)), Source.CALLBACK)
    # Delivered two hours late: known true at its newest status time, not at its arrival.
    result = apply_document("default", older.pushed(T0 + timedelta(hours=2)), Source.CALLBACK)
    assert result.stale
    assert result.stale_reason.startswith("known true at 2026-01-05T09:00:00")
    order = Order.objects.get()
    assert order.state == "in_transit"
    assert order.receiver_name == "Receiver Name"
    assert OrderEvent.objects.count() == 1


def test_an_older_poll_is_ignored():
    apply_document(
        "default",
        _doc(receiver_name="New Name"),
        Source.REFRESH,
        observed_at=T0 + timedelta(minutes=5),
    )
    result = apply_document(
        "default", _doc(receiver_name="Old Name"), Source.REFRESH, observed_at=T0
    )
    assert result.stale
    assert "before 2026-01-05T09:05:00" in result.stale_reason
    assert Order.objects.get().receiver_name == "New Name"


def test_a_newer_observation_is_applied():
    apply_document("default", _doc(receiver_name="First"), Source.REFRESH, observed_at=T0)
    result = apply_document(
        "default", _doc(receiver_name="Second"), Source.REFRESH, observed_at=T0 + timedelta(1)
    )
    assert result.changed_fields == ["receiver_name", "raw"]
    assert Order.objects.get().receiver_name == "Second"


def test_a_state_going_backwards_within_the_clock_window_is_ignored():
    apply_document("default", _doc(state="with_driver"), Source.CALLBACK, observed_at=T0)
    result = apply_document(
        "default", _doc(state="in_transit"), Source.REFRESH, observed_at=T0 + timedelta(seconds=2)
    )
    assert result.stale
    assert "'in_transit' comes before 'with_driver'" in result.stale_reason
    assert Order.objects.get().state == "with_driver"
    assert OrderEvent.objects.count() == 1


def test_a_state_going_forward_within_the_clock_window_is_applied_even_if_dated_earlier():
    apply_document("default", _doc(state="in_transit"), Source.REFRESH, observed_at=T0)
    result = apply_document(
        "default", _doc(state="with_driver"), Source.REFRESH, observed_at=T0 - timedelta(seconds=3)
    )
    assert result.state_changed
    order = Order.objects.get()
    assert order.state == "with_driver"
    assert order.state_as_of == T0  # the clock never moves back


def test_a_newer_document_wins_even_moving_the_state_back():
    apply_document("default", _doc(state="with_driver"), Source.CALLBACK, observed_at=T0)
    result = apply_document(
        "default", _doc(state="in_transit"), Source.REFRESH, observed_at=T0 + timedelta(hours=1)
    )
    assert result.state_changed
    assert Order.objects.get().state == "in_transit"


def test_a_final_state_is_kept_within_the_clock_window():
    apply_document("default", _doc(state="completed"), Source.CALLBACK, observed_at=T0)
    result = apply_document(
        "default",
        _doc(state="return_requested"),
        Source.REFRESH,
        observed_at=T0 + timedelta(seconds=1),
    )
    assert result.stale
    assert "the final state 'completed' is kept" in result.stale_reason
    assert Order.objects.get().state == "completed"


def test_a_final_state_is_left_for_a_strictly_newer_document():
    apply_document("default", _doc(state="completed"), Source.CALLBACK, observed_at=T0)
    apply_document(
        "default", _doc(state="return_requested"), Source.REFRESH, observed_at=T0 + timedelta(1)
    )
    order = Order.objects.get()
    assert order.state == "return_requested"
    assert list(order.events.order_by("pk").values_list("to_state", flat=True)) == [
        "completed",
        "return_requested",
    ]


def test_an_unknown_state_is_stored():
    apply_document("default", _doc(state="order_placed"), Source.REFRESH, observed_at=T0)
    result = apply_document(
        "default", _doc(state="teleported"), Source.REFRESH, observed_at=T0 + timedelta(1)
    )
    assert result.state_changed
    order = Order.objects.get()
    assert order.state == "teleported"
    assert order.events.first().to_state == "teleported"
    # And a known state after the unknown one is applied too.
    apply_document(
        "default", _doc(state="in_transit"), Source.REFRESH, observed_at=T0 + timedelta(2)
    )
    assert Order.objects.get().state == "in_transit"


def test_a_partial_webhook_does_not_blank_other_fields(shippit_webhook):
    apply_document(
        "default", _doc("PPYvZCTod5bkD", state="ready_for_pickup"), Source.REFRESH, observed_at=T0
    )
    webhook = parse_order_document(shippit_webhook)
    result = apply_document("default", webhook, Source.CALLBACK, observed_at=T0 + timedelta(1))
    order = Order.objects.get()
    assert order.state == "completed"
    assert order.courier_job_id == "CPAVZUZ0001749"
    assert order.tracking_url == "http://app.shippit.com/tracking/ppyvzctod5bkd"
    assert order.delivery_address == "123 Fake Drive"
    # What the webhook does not carry stays as it was.
    assert order.receiver_name == "Receiver Name"
    assert order.user_email == "test@example.com"
    assert order.duties == Decimal("0")
    # The order's own line stays; the webhook's products record what shipped beside it.
    assert order.parcels.count() == 1
    assert list(order.products.values_list("sku", "quantity", "quantity_shipped")) == [
        ("SKU12345", 1, None),
        ("EWPE123123", None, 1),
    ]
    assert order.raw["receiver_name"] == "Receiver Name"  # raw keeps the last full payload
    assert order.state_as_of == T0 + timedelta(1)
    assert order.state_changed_at == datetime(2016, 4, 26, 19, 36, 32, tzinfo=timezone.utc)
    assert result.state_changed


# -- queries ---------------------------------------------------------------------------------


def _lines(count):
    parcel = documented_payload()["parcel_attributes"][0]
    product = documented_payload()["product_attributes"][0]
    return (
        [{**parcel, "label_number": f"L{i}"} for i in range(count)],
        [{**product, "sku": f"SKU{i}"} for i in range(count)],
    )


def _queries_for(count, reference, *, update):
    parcels, products = _lines(count)
    if update:
        apply_document("default", _doc(reference), Source.REFRESH, observed_at=T0)
    document = _doc(
        reference,
        parcel_attributes=parcels,
        product_attributes=products,
        state="despatch_in_progress",
    )
    with CaptureQueriesContext(connection) as queries:
        apply_document("default", document, Source.REFRESH, observed_at=T0 + timedelta(1))
    return len(queries)


@pytest.mark.parametrize("update", [False, True], ids=["create", "update"])
def test_apply_document_runs_the_same_number_of_queries_for_1_and_50_parcels(update):
    one = _queries_for(1, "PPQ1", update=update)
    fifty = _queries_for(50, "PPQ50", update=update)
    assert one == fifty
    assert Parcel.objects.filter(order__reference="PPQ50").count() == 50
    assert Product.objects.filter(order__reference="PPQ50").count() == 50


def test_the_same_lines_again_are_neither_read_nor_written():
    parcels, products = _lines(5)
    first = _doc("PPSAME", parcel_attributes=parcels, product_attributes=products)
    apply_document("default", first, Source.REFRESH, observed_at=T0)
    rows = list(Parcel.objects.values_list("pk", flat=True))
    again = _doc(
        "PPSAME", parcel_attributes=parcels, product_attributes=products, receiver_name="New Name"
    )

    with CaptureQueriesContext(connection) as queries:
        result = apply_document("default", again, Source.REFRESH, observed_at=T0 + timedelta(1))

    assert result.changed_fields == ["receiver_name", "raw"]
    assert not (result.parcels_changed or result.products_changed)
    assert not [q for q in queries if "_parcel" in q["sql"] or "_product" in q["sql"]]
    assert list(Parcel.objects.values_list("pk", flat=True)) == rows
    moved, _ = _lines(5)
    moved[4]["label_number"] = "L-NEW"
    changed = _doc("PPSAME", parcel_attributes=moved, product_attributes=products)
    assert apply_document(
        "default", changed, Source.REFRESH, observed_at=T0 + timedelta(2)
    ).parcels_changed
    assert Parcel.objects.get(position=4).label_number == "L-NEW"


def test_changed_parcels_are_replaced_in_order():
    apply_document("default", _doc(), Source.REFRESH, observed_at=T0)
    parcels, _ = _lines(3)
    apply_document(
        "default", _doc(parcel_attributes=parcels), Source.REFRESH, observed_at=T0 + timedelta(1)
    )
    assert list(Order.objects.get().parcels.values_list("position", "label_number")) == [
        (0, "L0"),
        (1, "L1"),
        (2, "L2"),
    ]


# -- events and signals ----------------------------------------------------------------------


def test_state_change_records_an_event_with_the_providers_time():
    apply_document("default", _doc(state="order_placed"), Source.REFRESH, observed_at=T0)
    document = _doc(
        state="in_transit", status_history=_history(("order_placed", 0), ("in_transit", 30))
    )
    apply_document("default", document, Source.CALLBACK, observed_at=T0 + timedelta(hours=5))
    event = OrderEvent.objects.filter(to_state="in_transit").get()
    assert event.from_state == "order_placed"
    assert event.source == Source.CALLBACK
    assert event.occurred_at == T0 + timedelta(minutes=30)
    assert Order.objects.get().state_changed_at == T0 + timedelta(minutes=30)


def test_state_change_without_provider_time_uses_the_observation_time():
    apply_document("default", _doc(state="order_placed"), Source.REFRESH, observed_at=T0)
    apply_document(
        "default", _doc(state="in_transit"), Source.REFRESH, observed_at=T0 + timedelta(hours=1)
    )
    assert OrderEvent.objects.get(to_state="in_transit").occurred_at == T0 + timedelta(hours=1)


def test_no_event_when_the_state_does_not_change():
    apply_document("default", _doc(), Source.REFRESH, observed_at=T0)
    apply_document(
        "default", _doc(receiver_name="Other"), Source.REFRESH, observed_at=T0 + timedelta(1)
    )
    assert OrderEvent.objects.count() == 1


@pytest.fixture
def received():
    seen = []

    def on_synced(sender, order, result, source, **kwargs):
        seen.append(("synced", order.reference, source))

    def on_state(sender, order, from_state, to_state, source, **kwargs):
        seen.append(("state", from_state, to_state))

    signals.order_synced.connect(on_synced)
    signals.order_state_changed.connect(on_state)
    yield seen
    signals.order_synced.disconnect(on_synced)
    signals.order_state_changed.disconnect(on_state)


def test_signals_are_sent_after_commit_only(received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        apply_document("default", _doc(), Source.REFRESH, observed_at=T0)
        assert received == [], "a signal went out before the commit"
    assert len(callbacks) >= 1
    assert received == [("synced", "PPDOC0001", Source.REFRESH), ("state", "", "order_placed")]


def test_no_signal_when_the_transaction_rolls_back(received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        apply_document("default", _doc(), Source.REFRESH, observed_at=T0)
    assert callbacks  # queued for the commit ...
    assert received == []  # ... and never run without one


def test_a_duplicate_sends_no_signal(received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        apply_document("default", _doc(), Source.REFRESH, observed_at=T0)
    received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        apply_document("default", _doc(), Source.REFRESH, observed_at=T0 + timedelta(1))
    assert received == []


def test_a_change_without_state_change_sends_only_order_synced(
    received, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        apply_document("default", _doc(), Source.REFRESH, observed_at=T0)
    received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        apply_document(
            "default", _doc(receiver_name="New"), Source.REFRESH, observed_at=T0 + timedelta(1)
        )
    assert received == [("synced", "PPDOC0001", Source.REFRESH)]


def test_terminal_state_stops_polling():
    result = apply_document("default", _doc(state="completed"), Source.REFRESH, observed_at=T0)
    assert result.order.next_refresh_at is None


def test_a_timed_document_observed_before_untimed_stored_data_is_ignored():
    # A poll (Get Order has no status history) observed at T0+10 min ...
    apply_document(
        "default",
        _doc(receiver_name="From the poll"),
        Source.REFRESH,
        observed_at=T0 + timedelta(minutes=10),
    )
    # ... then a callback received at T0+5 min, reprocessed late, with provider times.
    late = _doc(receiver_name="From the callback", status_history=_history(("order_placed", 1)))
    result = apply_document("default", late, Source.CALLBACK, observed_at=T0 + timedelta(minutes=5))
    assert result.stale
    assert Order.objects.get().receiver_name == "From the poll"


def test_over_long_text_from_the_provider_is_cut_to_the_column_not_a_database_error():
    long_name = "N" * 400
    parcels = [{"qty": 1, "label_number": "L" * 300}]
    result = apply_document(
        "default",
        _doc(receiver_name=long_name, parcel_attributes=parcels),
        Source.REFRESH,
        observed_at=T0,
    )
    order = Order.objects.get(pk=result.order.pk)
    assert order.receiver_name == long_name[:255]
    assert order.raw["receiver_name"] == long_name  # the full value is kept in raw
    assert order.parcels.get().label_number == "L" * 128
    # Applying the same document again is still a duplicate.
    again = apply_document(
        "default",
        _doc(receiver_name=long_name, parcel_attributes=parcels),
        Source.REFRESH,
        observed_at=T0 + timedelta(1),
    )
    assert again.changed is False


def test_a_document_with_a_null_state_keeps_the_stored_state():
    apply_document("default", _doc(state="in_transit"), Source.REFRESH, observed_at=T0)
    result = apply_document(
        "default", _doc(state=None), Source.REFRESH, observed_at=T0 + timedelta(1)
    )
    assert not result.state_changed
    assert Order.objects.get().state == "in_transit"
    assert OrderEvent.objects.count() == 1


@pytest.mark.parametrize(
    "value",
    [
        {"a": [Decimal("1.50"), Decimal("1E+2"), Decimal("0E-7"), Decimal("-0.0")]},
        {"huge": Decimal("1.5E400"), "tiny": Decimal("1E-400"), "nan": Decimal("NaN")},
        {"n": {"deep": [None, True, False, 0, -0.0, 1.25, 10**30, "x\u00e9", ""]}},
        [Decimal("123456789012345678901234567890.5"), Decimal("12"), Decimal("12.0")],
        (1, 2),
        {1: "a key that is not text"},
        10**2000,
        Decimal("7"),
    ],
    ids=repr,
)
def test_normalize_json_is_the_json_round_trip(value):
    """What a JSON field reads back, spelled the same: JSON text, then read again."""
    expected = json.loads(json.dumps(value, cls=PayloadEncoder))
    assert repr(normalize_json(value)) == repr(expected)
