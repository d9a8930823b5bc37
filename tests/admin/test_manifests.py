"""Booking for pickup from the admin: per-courier manifests, refused orders, the manifest pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_shipping_orders.models import Manifest, Order

from .conftest import make_pdf, pdf_page_texts
from .test_admin import messages_of, run_action

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_orders(make_order, label_account):
    """Two Couriers Please orders (named both ways) and one Aramex order."""
    return (
        make_order(account=label_account, state="ready_for_pickup", courier="couriersplease"),
        make_order(account=label_account, state="ready_for_pickup", courier="couriersplease"),
        make_order(account=label_account, state="ready_for_pickup", courier="aramex"),
    )


def answer_with_one_failed_manifest(server, a, b, c) -> str:
    pdf_url = f"{server.url}/manifests/CP1.pdf"
    server.add(
        200,
        {
            "response": [
                {
                    "courier": "Couriers Please",
                    "manifest": "CP1",
                    "manifest_pdf": pdf_url,
                    "order_count": 2,
                    "success": True,
                },
                {
                    "courier": "Aramex",
                    "success": False,
                    "order_count": 1,
                    "error": "courier_booking_failed",
                    "error_description": "Aramex could not take the booking.",
                    "orders": [c.reference],
                },
            ]
        },
    )
    server.add(200, make_pdf("Manifest CP1"))
    return pdf_url


def test_only_the_orders_the_provider_confirmed_are_booked(
    client, clerk, three_orders, scripted_server
):
    a, b, c = three_orders
    answer_with_one_failed_manifest(scripted_server, a, b, c)
    client.force_login(clerk)

    response = run_action(client, "book_for_pickup", [a, b, c])

    assert scripted_server.requests[0]["path"] == "/api/3/book"
    booked = set(Order.objects.exclude(booked_at=None).values_list("pk", flat=True))
    assert booked == {a.pk, b.pk}
    refused = Order.objects.get(pk=c.pk)
    assert refused.booked_at is None and refused.manifest is None
    assert "Aramex could not take the booking." in refused.booking_error
    good = Manifest.objects.get(success=True)
    assert (good.number, good.courier, good.order_count) == ("CP1", "couriersplease", 2)
    assert set(good.orders.values_list("pk", flat=True)) == {a.pk, b.pk}
    with good.pdf.open("rb") as handle:
        assert pdf_page_texts(handle.read()) == ["Manifest CP1"]
    bad = Manifest.objects.get(success=False)
    assert bad.references == [c.reference] and bad.error == "courier_booking_failed"
    lines = messages_of(response)
    assert any(
        "Booked 2 orders of account labels with Couriers Please for pickup." in line
        and reverse("admin:shipping_orders_manifest_change", args=[good.pk]) in line
        for line in lines
    )
    assert f"{c.reference}: not booked: Aramex: Aramex could not take the booking." in "".join(
        lines
    )


def test_the_admin_action_writes_nothing_itself(client, clerk, three_orders, monkeypatch):
    from django_shipping_orders import services
    from django_shipping_orders.booking import BookingOutcome

    seen = []

    def book(account, orders):
        seen.append((account, [o.pk for o in orders]))
        return BookingOutcome()

    monkeypatch.setattr(services, "book_orders", book)
    client.force_login(clerk)

    run_action(client, "book_for_pickup", list(three_orders))

    assert [(account, sorted(pks)) for account, pks in seen] == [
        ("labels", sorted(o.pk for o in three_orders))
    ]
    assert not Order.objects.exclude(booked_at=None).exists()


def test_manifest_pages_show_the_pdf_and_the_orders(
    client, clerk, make_user, three_orders, scripted_server
):
    a, b, c = three_orders
    answer_with_one_failed_manifest(scripted_server, a, b, c)
    client.force_login(clerk)
    run_action(client, "book_for_pickup", [a, b, c])
    good = Manifest.objects.get(success=True)
    bad = Manifest.objects.get(success=False)
    client.force_login(make_user("boss", perms=("view_order", "view_manifest")))

    listing = client.get(reverse("admin:shipping_orders_manifest_changelist"))
    page = client.get(reverse("admin:shipping_orders_manifest_change", args=[good.pk]))
    failed_page = client.get(reverse("admin:shipping_orders_manifest_change", args=[bad.pk]))
    pdf = client.get(reverse("admin:shipping_orders_manifest_pdf", args=[good.pk]))
    order_page = client.get(reverse("admin:shipping_orders_order_change", args=[a.pk]))
    refused_page = client.get(reverse("admin:shipping_orders_order_change", args=[c.pk]))

    assert listing.status_code == 200 and "CP1" in listing.text
    pdf_link = reverse("admin:shipping_orders_manifest_pdf", args=[good.pk])
    assert pdf_link in page.text
    assert reverse("admin:shipping_orders_order_change", args=[a.pk]) in page.text
    assert c.reference in failed_page.text and "Aramex could not take the booking." in (
        failed_page.text
    )
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert "no-store" in pdf["Cache-Control"]
    assert pdf_page_texts(b"".join(pdf.streaming_content)) == ["Manifest CP1"]
    pdf.close()
    assert reverse("admin:shipping_orders_manifest_change", args=[good.pk]) in order_page.text
    assert "Aramex could not take the booking." in refused_page.text


def test_manifest_pdf_needs_the_view_permission(client, make_user, three_orders, scripted_server):
    manifest = Manifest.objects.create(account="labels", number="X1", success=True)
    client.force_login(make_user("nobody", perms=("view_order",)))
    response = client.get(reverse("admin:shipping_orders_manifest_pdf", args=[manifest.pk]))
    assert response.status_code == 403
