"""What the order pages show of couriers, attention, shipped lines, prices and label documents."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from django_shipping_orders.models import LabelDocument, Product

from .conftest import make_pdf, pdf_page_texts

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:shipping_orders_order_changelist"


def courier_choices(html: str) -> list[str]:
    """The entries of the changelist's courier filter."""
    section = html.split("By courier", 1)[1].split("</ul>", 1)[0]
    return [re.sub(r"\s+", " ", text).strip() for text in re.findall(r">([^<>]+)</a>", section)]


def test_one_courier_is_one_filter_entry_however_it_was_spelled(client, viewer, make_order):
    make_order(courier_allocation="CouriersPlease", courier="couriersplease")
    make_order(courier_name="Couriers Please", courier="couriersplease")
    make_order(courier_name="Aramex", courier="aramex")
    make_order(courier_name="Zoom Co", courier="zoomco")
    client.force_login(viewer)

    response = client.get(reverse(CHANGELIST))
    filtered = client.get(reverse(CHANGELIST), {"courier": "couriersplease"})

    assert courier_choices(response.text) == ["All", "Aramex", "Couriers Please", "Zoom Co"]
    assert filtered.context["cl"].result_count == 2


def test_courier_names_setting_names_couriers_the_shop_way(client, viewer, make_order, settings):
    settings.SHIPPING_ORDERS = {**settings.SHIPPING_ORDERS, "COURIER_NAMES": {"zoom co": "Zoom!"}}
    make_order(courier_name="Zoom Co", courier="zoomco")
    client.force_login(viewer)

    response = client.get(reverse(CHANGELIST))

    assert courier_choices(response.text) == ["All", "Zoom!"]
    assert "Zoom!" in response.text


def test_attention_filter_lists_the_orders_someone_has_to_act_on(client, viewer, make_order):
    lost = make_order(state="lost")
    make_order(state="in_transit")
    customs = make_order(state="customs_on_hold")
    make_order(state="completed")
    client.force_login(viewer)

    needed = client.get(reverse(CHANGELIST), {"attention": "needed"})
    still_open = client.get(reverse(CHANGELIST), {"attention": "open"})

    assert {o.pk for o in needed.context["cl"].result_list} == {lost.pk, customs.pk}
    assert still_open.context["cl"].result_count == 2  # in_transit and customs_on_hold


def test_order_page_shows_price_shipped_quantities_and_documents(client, viewer, make_order):
    order = make_order(state="ready_for_pickup", price=Decimal("15.9500"), price_currency="AUD")
    Product.objects.create(
        order=order, position=0, title="Red", sku="S1", quantity=3, quantity_shipped=1
    )
    document = LabelDocument.objects.create(
        order=order, kind="commercial_invoice", page_size="a4", file_type="pdf"
    )
    document.file.save("invoice.pdf", ContentFile(make_pdf("Invoice")), save=True)
    client.force_login(viewer)

    page = client.get(reverse("admin:shipping_orders_order_change", args=[order.pk]))
    url = reverse("admin:shipping_orders_order_document_file", args=[order.pk, document.pk])
    pdf = client.get(url)

    assert "15.95 AUD" in page.text
    assert "1 of 3" in page.text and "Partly shipped" in page.text
    assert "commercial_invoice" in page.text and url in page.text
    assert pdf.status_code == 200 and pdf_page_texts(b"".join(pdf.streaming_content)) == ["Invoice"]
    pdf.close()


def test_documents_of_an_order_are_not_served_to_staff_without_the_view_permission(
    client, make_user, make_order
):
    order = make_order()
    document = LabelDocument.objects.create(order=order, kind="label", file_type="pdf")
    document.file.save("label.pdf", ContentFile(make_pdf("Label")), save=True)
    client.force_login(make_user("nobody"))

    url = reverse("admin:shipping_orders_order_document_file", args=[order.pk, document.pk])
    assert client.get(url).status_code == 403


def test_couriers_of_any_script_and_their_aliases_are_one_entry_each(client, viewer, settings):
    from django_shipping_orders.models import Order
    from django_shipping_orders.providers import get_provider
    from django_shipping_orders.sync import apply_document

    names = [
        ("courier_allocation", "CouriersPlease"),
        ("courier_name", "Couriers Please"),
        ("courier_name", "eParcel Express"),
        ("courier_name", "Australia Post eParcel Express"),
        ("courier_name", "Australia Post"),
        ("courier_name", "AusPost"),
        ("courier_name", "Почта России"),
        ("courier_name", "ヤマト運輸"),
        ("courier_name", "Zariņš Kurjers"),
        ("courier_name", "Zarins Kurjers"),
    ]
    provider = get_provider("default")
    for number, (key, name) in enumerate(names):
        body = {"tracking_number": f"PPC{number}", "current_state": "in_transit", key: name}
        apply_document("default", provider.parse_document(body), "callback")
    client.force_login(viewer)

    response = client.get(reverse(CHANGELIST))

    assert courier_choices(response.text) == [
        "All",
        "Australia Post",
        "Australia Post eParcel Express",
        "Couriers Please",
        "Zariņš Kurjers",
        "Почта России",
        "ヤマト運輸",
    ]
    assert not Order.objects.filter(courier="").exists()
