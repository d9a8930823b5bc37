"""Every published Shippit example through the adapter: each key a shop looks for lands in its field."""

from __future__ import annotations

from datetime import datetime
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
import responses

from django_shipping_orders import services
from django_shipping_orders.models import Order, Source
from django_shipping_orders.providers import get_provider
from django_shipping_orders.sync import apply_document
from tests.conftest import fixture_bytes, load_fixture

API = "https://shippit.test/api/3"

pytestmark = pytest.mark.django_db


def example(name: str) -> bytes:
    return fixture_bytes(f"shippit/{name}")


def stub(method: str, path: str, name: str, status: int = 200) -> None:
    responses.add(
        method, f"{API}/{path}", body=example(name), status=status, content_type="application/json"
    )


@responses.activate
def test_the_create_answer_gives_products_price_and_courier():
    stub("POST", "orders", "create_order_200.json")

    order = services.place_order("default", {"retailer_reference": "#23201005"})

    assert order.reference == "PPu38Wz2TdoNj"
    assert order.state == "processing"
    assert (order.price, order.price_currency) == (Decimal("0.0"), "AUD")
    assert (order.courier_name, order.courier, order.courier_job_id) == (
        "eParcel",
        "eparcel",
        "30734876324",
    )
    assert (order.delivery_suburb, order.delivery_state, order.receiver_name) == (
        "Pyrmont",
        "NSW",
        "Josh",
    )
    (product,) = order.products.all()
    assert (product.title, product.quantity, product.price) == (
        "Industrial Paint Stripper",
        1,
        Decimal("29.13"),
    )
    assert (product.sku, product.tariff_code, product.dangerous_goods_code) == (
        "0.1",
        "000999",
        "ID8000",
    )
    assert product.origin_country_code == "TH" and product.quantity_shipped is None
    (parcel,) = order.parcels.all()
    assert parcel.weight == Decimal("16.8")
    assert order.raw["processing_state"] == "created" and order.raw["slug"] == "ppu38wz2tdonj"


@responses.activate
def test_the_label_answer_gives_documents_state_products_and_price():
    stub("GET", "orders/PPKFqy44U8Nff/label", "label_200.json")

    info = get_provider("default").get_label("PPKFqy44U8Nff")

    assert info.url == "" or info.url  # the example has no qualified_url: see below
    assert info.courier_job_id == "SHP0100002"
    assert info.label_numbers == ("SHP010000201000930803",)
    (document,) = info.documents
    assert (document.kind, document.page_size, document.file_type) == ("archive_awb", "a6", "pdf")
    assert document.url.startswith("https://shippit-web-production.s3.amazonaws.com/")
    assert info.order is not None
    assert info.order.state == "completed"
    assert info.order.fields["price"] == Decimal("15.95")
    assert info.order.fields["user_email"] == "jane.doe@shippit.com"
    assert info.order.fields["user_last_name"] == "Doe"  # the example's trailing space is dropped
    (product,) = info.order.products
    assert product.values["title"] == "Industrial Paint Stripper"
    assert info.order.shipped_products is None


def test_the_label_answers_order_lands_on_the_mirror():
    provider = get_provider("default")
    payload = load_fixture("shippit/label_200.json")["response"]["order"]

    result = apply_document("default", provider.parse_document(payload), Source.LABEL)

    order = Order.objects.get(pk=result.order.pk)
    assert (order.state, order.price, order.price_currency) == (
        "completed",
        Decimal("15.95"),
        "AUD",
    )
    assert order.products.get().title == "Industrial Paint Stripper"
    assert order.raw["documents"]["archive_awb"]["page_size"] == "a6"
    assert order.raw["parcels"][0]["courier_data"]["pickup_zone"] == "SYD"


@responses.activate
def test_the_book_answer_is_one_manifest_per_courier():
    stub("POST", "book", "book_200.json")

    result = get_provider("default").book(["PP1", "PP2", "PP3", "PP4"])

    assert [(m.courier, m.manifest, m.order_count, m.success) for m in result.manifests] == [
        ("eParcel Express", "ABC0000214", 2, True),
        ("Fastway", "FW20160721215", 2, True),
    ]
    assert result.manifests[0].manifest_pdf.startswith("https://shippit.com/manifest")
    assert result.failed_references == ()


@responses.activate
def test_the_cancel_answer_is_the_whole_order():
    stub("DELETE", "orders/PPuqD0J0uLslM", "cancel_200.json")
    order = Order.objects.create(account="default", reference="PPuqD0J0uLslM", state="processing")

    services.cancel_order(order)

    order.refresh_from_db()
    assert order.state == "cancelled"
    assert order.raw["processing_state"] == " processing_cancelled"  # as published
    assert (order.courier_name, order.courier, order.courier_job_id) == (
        "eParcel International",
        "eparcelinternational",
        "ABC0100023",
    )
    assert (order.price, order.retailer_invoice, order.user_email) == (
        Decimal("0.0"),
        "SO42637",
        "test@shippit.com",
    )
    assert order.parcels.get().depth == Decimal("0.03")


@responses.activate
def test_the_tracking_answer_is_typed():
    stub("GET", "orders/PP39TBECV7QSSPK/tracking", "tracking_200.json")

    tracking = get_provider("default").get_tracking("PP39TBECV7QSSPK")

    assert (
        tracking.success and tracking.tracking_url == "http://www.shippit.com/track/pp39tbecv7qsspk"
    )
    assert [e.status for e in tracking.events][:2] == ["Completed", "With Driver"]
    assert tracking.events[0].status_owner == "Bonds Couriers"
    assert tracking.events[0].date == datetime(2015, 4, 3, tzinfo=dt_timezone.utc)


def test_the_webhook_example_records_what_shipped_and_keeps_every_key():
    provider = get_provider("default")
    webhook = provider.parse_document(load_fixture("shippit/webhook_mapped.json"))

    result = apply_document("default", webhook, Source.CALLBACK)

    order = Order.objects.get(pk=result.order.pk)
    assert (order.state, order.courier, order.courier_job_id) == (
        "completed",
        "couriersplease",
        "CPAVZUZ0001749",
    )
    assert order.retailer_order_number == "WEYFEW232"
    assert order.expected_delivery_at == datetime(2016, 4, 26, 10, 46, 1, tzinfo=dt_timezone.utc)
    shipped = list(order.products.values_list("title", "product_line_id", "quantity_shipped"))
    assert shipped == [
        ("Super awesome red tshirt", "1234", 1),
        ("Super awesome blue tshirt", "", 7),
    ]
    assert [line.quantity_shipped for line in result.shipped_products] == [1, 7]
    assert order.raw["merchant_url"] == "myshopify.storename.com"
    assert order.raw["delivery_latitude"] == -33.77


def test_a_webhook_after_get_order_marks_shipped_lines_and_keeps_them_on_refresh():
    provider = get_provider("default")
    lines = [
        {"title": "Red", "sku": "S1", "product_line_id": "1234", "quantity": 3},
        {"title": "Blue", "sku": "S2", "quantity": 1},
    ]
    full = load_fixture("get_order_200.json") | {
        "tracking_number": "PPX1",
        "product_attributes": lines,
    }
    apply_document("default", provider.parse_document(full), Source.REFRESH)
    webhook = load_fixture("shippit/webhook_mapped.json") | {
        "tracking_number": "PPX1",
        "products": [{"quantity": 1, "sku": "S1", "title": "Red", "product_line_id": "1234"}],
    }

    result = apply_document("default", provider.parse_document(webhook), Source.CALLBACK)
    (line,) = result.shipped_products
    assert (line.quantity_shipped, line.quantity_ordered, line.partial) == (1, 3, True)
    # The next full Get Order replaces the lines and keeps what shipped.
    full["receiver_name"] = "Someone Else"
    apply_document("default", provider.parse_document(full), Source.REFRESH)

    order = Order.objects.get(reference="PPX1")
    assert list(order.products.values_list("sku", "quantity", "quantity_shipped")) == [
        ("S1", 3, 1),
        ("S2", 1, None),
    ]
    assert order.products.get(sku="S1").partly_shipped


def test_get_order_keeps_what_webhooks_and_the_label_said_in_raw():
    provider = get_provider("default")
    webhook = load_fixture("shippit/webhook_mapped.json") | {"tracking_number": "PPX2"}
    apply_document("default", provider.parse_document(webhook), Source.CALLBACK)
    full = load_fixture("get_order_200.json") | {"tracking_number": "PPX2", "state": "completed"}

    apply_document("default", provider.parse_document(full), Source.REFRESH)

    raw = Order.objects.get(reference="PPX2").raw
    assert raw["merchant_url"] == "myshopify.storename.com"  # from the webhook
    assert raw["customs_clearance_attributes"]["incoterm"] == "DDP"  # from Get Order
    assert raw["current_state"] == "completed" and raw["state"] == "completed"


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("get_order_403.json", 403, "invalid_merchant_account"),
        ("get_order_404.json", 404, "not_found"),
    ],
)
@responses.activate
def test_documented_errors_keep_their_code(name, status, code):
    responses.add("GET", f"{API}/orders/PPE", body=fixture_bytes(name), status=status)
    with pytest.raises(Exception) as info:
        get_provider("default").get_order("PPE")
    assert info.value.code == code and info.value.status_code == status
