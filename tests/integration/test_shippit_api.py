"""Booking, merchant setup, quotes, label documents and tracking against the sandbox.

What a shop checks: only the orders a courier confirmed are booked and the
manifest is stored; the commands tell whether a key works and register the
webhook URL that then really receives webhooks; quotes come back typed;
international labels come with their customs invoice; names print as written.
"""

from __future__ import annotations

import io
from collections import defaultdict
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from pypdf import PdfReader

from django_shipping_orders import services
from django_shipping_orders.label_documents import merge_with_documents
from django_shipping_orders.models import CallbackReceipt, Manifest, Order
from django_shipping_orders.providers import get_provider

from .conftest import API_KEYS, CALLBACK_SECRETS, SECRETS, SHIPPIT, order_payload

pytestmark = pytest.mark.django_db(transaction=True)


def pdf_text(stored) -> str:
    with stored.open("rb") as handle:
        return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(handle.read())).pages)


def processed_orders(shop, count: int, **changes) -> list[Order]:
    shop.sandbox.cancel_share = 0
    orders = [services.place_order(SHIPPIT, order_payload(**changes)) for _ in range(count)]
    shop.sandbox.process_all()
    for order in orders:
        services.refresh_order(order)
    return [Order.objects.get(pk=order.pk) for order in orders]


def test_booking_two_couriers_where_one_manifest_fails(shop):
    orders = processed_orders(shop, 8)
    by_courier = defaultdict(list)
    for order in orders:
        by_courier[order.courier].append(order)
    assert len(by_courier) >= 2, "the seeded sandbox allocates several couriers"
    failing_key, failing_orders = next(iter(by_courier.items()))
    failing_name = shop.sandbox.order_info(failing_orders[0].reference)["courier"]
    shop.sandbox.set_faults(failing_manifests=[failing_name])

    outcome = services.book_orders(SHIPPIT, orders)

    booked = {o.pk for o in Order.objects.exclude(booked_at=None)}
    assert booked == {o.pk for o in orders if o.courier != failing_key}
    assert {o.pk for o in outcome.booked} == booked
    for order in Order.objects.filter(pk__in=[o.pk for o in failing_orders]):
        assert order.booked_at is None and order.manifest is None
        assert "could not take the booking" in order.booking_error
    good = Manifest.objects.filter(success=True)
    assert good.count() == len(by_courier) - 1
    for manifest in good:
        text = pdf_text(manifest.pdf)
        assert all(o.reference in text for o in manifest.orders.all())
        assert manifest.orders.count() == manifest.order_count
    (bad,) = Manifest.objects.filter(success=False)
    assert sorted(bad.references) == sorted(o.reference for o in failing_orders)
    assert shop.sandbox.order_info(failing_orders[0].reference)["booked_at"] is None


def test_check_shipping_accounts_names_the_merchant(shop, capsys):
    call_command("check_shipping_accounts")

    out = capsys.readouterr().out
    assert "sandbox: key works — merchant Sandbox Merchant" in out
    assert "sandbox-senderlv: skipped" in out


def test_check_shipping_accounts_exits_1_on_a_bad_key(shop, capsys):
    shop.configure(SHIPPIT, API_KEY="sk_live_shippit_REVOKED_0000")

    with pytest.raises(CommandError) as info:
        call_command("check_shipping_accounts", SHIPPIT)

    captured = capsys.readouterr()
    assert "sandbox: the provider refused the API key" in captured.err
    assert "1 account(s) failed: sandbox" in str(info.value)
    assert "REVOKED" not in captured.err + captured.out + str(info.value)


def test_register_shipping_webhooks_dry_run_shows_the_body_without_the_secret(shop, capsys):
    call_command(
        "register_shipping_webhooks", SHIPPIT, base_url="https://shop.example", dry_run=True
    )

    out = capsys.readouterr().out
    assert (
        'sandbox: would send PUT /merchant {"merchant": {"webhook_url": '
        '"https://shop.example/shipping/callbacks/sandbox/[redacted]/"}}'
    ) in out
    assert CALLBACK_SECRETS[SHIPPIT] not in out
    assert shop.sandbox.accounts()[0].callback_url is None  # nothing was sent


def test_registered_webhook_url_receives_the_webhooks(shop, live_server, capsys):
    call_command("register_shipping_webhooks", SHIPPIT, base_url=live_server.url)

    assert "sandbox: webhook URL registered" in capsys.readouterr().out
    merchant = get_provider(SHIPPIT).get_merchant()
    assert merchant.webhook_url.startswith(f"{live_server.url}/shipping/callbacks/sandbox/")
    order = services.place_order(SHIPPIT, order_payload())
    shop.sandbox.cancel_share = 0
    shop.sandbox.process_all()
    shop.sandbox.advance(3 * 86400)
    assert shop.sandbox.wait_for_callbacks(10)
    receipts = CallbackReceipt.objects.filter(order__pk=order.pk)
    assert receipts.exists()
    statuses = set(receipts.values_list("status", flat=True))
    # Stale webhooks (a poll already saw a later state) are ignored, never failed.
    assert CallbackReceipt.Status.PROCESSED in statuses
    assert statuses <= {CallbackReceipt.Status.PROCESSED, CallbackReceipt.Status.IGNORED}
    assert Order.objects.get(pk=order.pk).state == "completed"


def test_a_plugins_query_string_secret_is_registered_when_configured(shop, capsys):
    shop.configure(SHIPPIT, CALLBACK_SECRET_PARAM="api_key")

    call_command("register_shipping_webhooks", SHIPPIT, base_url="https://shop.example")

    registered = shop.sandbox.accounts()[0].callback_url
    assert registered == (
        f"https://shop.example/shipping/callbacks/sandbox/?api_key={CALLBACK_SECRETS[SHIPPIT]}"
    )
    assert CALLBACK_SECRETS[SHIPPIT] not in capsys.readouterr().out


def test_get_quotes_answers_typed_prices_and_each_couriers_error(shop):
    quotes = services.get_quotes(
        SHIPPIT,
        {"suburb": "Sydney", "postcode": "2000", "state": "NSW"},
        [{"qty": 1, "weight": Decimal("27.5"), "length": 0.5, "width": 0.4, "depth": 0.3}],
        order_date="2026-01-05",
    )

    by_courier = {quote.courier_type: quote for quote in quotes}
    assert by_courier["Aramex"].success and by_courier["Aramex"].service_level == "standard"
    price = by_courier["Aramex"].cheapest.price
    assert isinstance(price, Decimal) and price == Decimal("31.82")  # 8.45 + 0.85 / kg
    assert by_courier["StarTrack"].options[0].estimated_transit_time == "1 business day"
    couriers_please = by_courier["CouriersPlease"]
    assert not couriers_please.success and couriers_please.options == ()
    assert "more than 25 kg" in couriers_please.error_description
    assert not by_courier["Bonds"].success  # 20 kg at most
    assert all(q.currency == "AUD" for q in quotes)


def test_get_quotes_for_a_mismatched_postcode_and_a_request_that_cannot_be_sent(shop):
    quotes = services.get_quotes(
        SHIPPIT, {"suburb": "Sydney", "postcode": "20"}, [{"qty": 1, "weight": 1}]
    )
    assert quotes and not any(q.success for q in quotes)
    assert all("postcode match" in q.error_description for q in quotes)
    with pytest.raises(ValueError, match="at least one parcel"):
        services.get_quotes(SHIPPIT, {"suburb": "Sydney", "postcode": "2000"}, [])
    with pytest.raises(ValueError, match="dropoff_postcode"):
        services.get_quotes(SHIPPIT, {"suburb": "Sydney"}, [{"qty": 1, "weight": 1}])


def test_international_label_comes_with_its_customs_invoice_and_prints_with_it(shop):
    (order,) = processed_orders(
        shop,
        1,
        receiver_name="Roberts Zariņš",
        delivery_country_code="NZ",
        delivery_suburb="Auckland",
    )

    assert order.label  # downloaded after the refresh named the courier
    documents = {doc.kind: doc for doc in order.documents.all()}
    assert set(documents) == {"archive_awb", "commercial_invoice"}  # as published, plus customs
    invoice = documents["commercial_invoice"]
    assert (invoice.page_size, invoice.file_type) == ("a4", "pdf") and invoice.file
    assert "Roberts Zariņš" in pdf_text(order.label)  # any name prints as written
    assert "Commercial invoice" in pdf_text(invoice.file)
    merged = PdfReader(io.BytesIO(merge_with_documents([order])))
    assert len(merged.pages) == 2  # the label, then the invoice (the label is not printed twice)
    assert order.price == Decimal(shop.sandbox.world.orders[order.reference].price)


def test_tracking_is_typed(shop):
    (order,) = processed_orders(shop, 1)
    shop.sandbox.advance(4 * 3600)

    tracking = get_provider(SHIPPIT).get_tracking(order.reference)

    assert tracking.success and tracking.reference == order.reference
    assert [event.status for event in tracking.events][:2] == ["In Transit", "Ready For Pick Up"]
    assert all(event.date is not None and event.status_owner for event in tracking.events)


def test_no_secret_reaches_the_manifests_or_documents(shop):
    orders = processed_orders(shop, 2)
    services.book_orders(SHIPPIT, orders)
    stored = " ".join(
        f"{m.raw} {m.pdf_url} {m.error_description} {m.pdf_error}" for m in Manifest.objects.all()
    )
    assert not any(secret in stored for secret in SECRETS)
    assert API_KEYS[SHIPPIT] not in str(Order.objects.values_list("raw", flat=True))
