"""A real browser (Playwright driving Debian's chromium) through the order admin.

Logs in, opens the order list and an order with a label, and saves
screenshots under ``test-artifacts/`` at the repository root. Skipped where
``/usr/bin/chromium`` (``apt-get install chromium``) or Playwright is missing.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.utils import timezone

from django_shipping_orders.admin import attention
from django_shipping_orders.models import CallbackReceipt, Order, OrderEvent, Parcel, Product
from django_shipping_orders.sandbox.pdf import label_pdf

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)",
    ),
]

# reference, retailer ref, receiver, suburb, region, postcode, time zone, state, courier,
# pickup as (days from today, hour) in the receiver's time zone
ORDERS = [
    (
        "PPDz8kM2",
        "SHOP-10452",
        "Olivia Bennett",
        "Surry Hills",
        "NSW",
        "2010",
        "Australia/Sydney",
        "ready_for_pickup",
        "CouriersPlease",
        (0, 14),
    ),
    (
        "PPa7QwX1",
        "SHOP-10451",
        "Liam O'Connor",
        "Fitzroy",
        "VIC",
        "3065",
        "Australia/Melbourne",
        "ready_for_pickup",
        "Australia Post",
        (0, 15),
    ),
    (
        "PPk3RtY9",
        "SHOP-10450",
        "Charlotte Nguyen",
        "South Brisbane",
        "QLD",
        "4101",
        "Australia/Brisbane",
        "despatch_in_progress",
        "StarTrack",
        (1, 10),
    ),
    (
        "PPm2VbN4",
        "SHOP-10449",
        "Noah Williams",
        "Fremantle",
        "WA",
        "6160",
        "Australia/Perth",
        "in_transit",
        "Aramex",
        (-1, 13),
    ),
    (
        "PPq8HsL6",
        "SHOP-10448",
        "Amelia Rossi",
        "Glenelg",
        "SA",
        "5045",
        "Australia/Adelaide",
        "with_driver",
        "CouriersPlease",
        (-1, 16),
    ),
    (
        "PPr5JcD3",
        "SHOP-10447",
        "Jack Thompson",
        "Battery Point",
        "TAS",
        "7004",
        "Australia/Hobart",
        "completed",
        "Australia Post",
        (-3, 11),
    ),
    (
        "PPt1GfK7",
        "SHOP-10446",
        "Mia Kowalski",
        "Newtown",
        "NSW",
        "2042",
        "Australia/Sydney",
        "pickup_failed",
        "StarTrack",
        (0, 9),
    ),
    (
        "PPv6ZpW2",
        "SHOP-10445",
        "Lucas Martin",
        "Parap",
        "NT",
        "0820",
        "Australia/Darwin",
        "order_placed",
        "",
        None,
    ),
    (
        "PPw9XeU5",
        "SHOP-10444",
        "Isla Fraser",
        "Braddon",
        "ACT",
        "2612",
        "Australia/Sydney",
        "processing",
        "",
        None,
    ),
    (
        "PPy4BnM8",
        "SHOP-10443",
        "Ethan Walker",
        "Carlton",
        "VIC",
        "3053",
        "Australia/Melbourne",
        "cancelled",
        "",
        None,
    ),
]

COURIER_TRACKING = {
    "CouriersPlease": "https://www.couriersplease.com.au/tools-track/no/{}",
    "Australia Post": "https://auspost.com.au/mypost/track/details/{}",
    "StarTrack": "https://startrack.com.au/track/details/{}",
    "Aramex": "https://www.aramex.com.au/tools/track?l={}",
}


def _local(now: datetime, zone: str, days: int, hour: int) -> datetime:
    """``hour`` o'clock, ``days`` from today, in time zone ``zone``."""
    local = now.astimezone(ZoneInfo(zone)) + timedelta(days=days)
    return local.replace(hour=hour, minute=0, second=0, microsecond=0)


def _demo_orders() -> Order:
    """A morning's worth of orders; returns the one to open (labelled, courier coming today)."""
    now = timezone.now()
    first = None
    # Oldest first, so that the list (newest on top) reads as ORDERS does.
    for index, row in reversed(list(enumerate(ORDERS))):
        ref, shop_ref, name, suburb, region, postcode, tz, state, courier, pickup = row
        allocated = bool(courier)
        job = f"{courier[:2].upper()}{48213077 + index * 7919}" if allocated else ""
        order = Order.objects.create(
            account="default",
            reference=ref,
            retailer_reference=shop_ref,
            retailer_invoice=f"INV-{shop_ref[5:]}",
            state=state,
            receiver_name=name,
            receiver_contact_number="0400 000 000",
            delivery_address=f"{12 + index * 3} {('Crown', 'Brunswick', 'Grey', 'High')[index % 4]} Street",
            delivery_suburb=suburb,
            delivery_state=region,
            delivery_postcode=postcode,
            delivery_country_code="AU",
            delivery_timezone=tz,
            delivery_instructions="Leave at the front door" if index % 2 else "",
            authority_to_leave="Yes" if index % 2 else "No",
            user_email=f"{name.split()[0].lower()}@example.com",
            user_first_name=name.split()[0],
            user_last_name=name.split()[-1],
            courier_type="standard",
            courier_allocation=courier,
            courier_name=courier,
            courier_job_id=job,
            tracking_url=COURIER_TRACKING[courier].format(job) if allocated else "",
            pickup_at=_local(now, tz, *pickup) if pickup else None,
            product_currency="AUD",
            cash_on_delivery_amount=Decimal("0"),
            last_synced_at=now - timedelta(minutes=3 + index * 7),
            state_changed_at=now - timedelta(minutes=30 + index * 11),
            raw={
                "tracking_number": ref,
                "state": state,
                "retailer_reference": shop_ref,
                "courier_allocation": courier,
                "delivery_postcode": postcode,
            },
        )
        Parcel.objects.create(
            order=order,
            position=0,
            qty=1,
            weight=Decimal("1.2"),
            length=Decimal("0.3"),
            width=Decimal("0.2"),
            depth=Decimal("0.1"),
            label_number=f"{job}001" if job else "",
        )
        Product.objects.create(
            order=order,
            position=0,
            title="Linen tea towel, set of 2",
            sku="TT-LIN-2",
            quantity=2,
            price=Decimal("24.50"),
        )
        Product.objects.create(
            order=order,
            position=1,
            title="Stoneware mug, sand",
            sku="MUG-SND",
            quantity=1,
            price=Decimal("19.00"),
        )
        if allocated:
            pdf = label_pdf(
                ref,
                courier,
                job,
                [
                    name,
                    f"{12 + index * 3} Crown Street",
                    f"{suburb} {region} {postcode}",
                    "Australia",
                ],
                [f"{job}001"],
            )
            order.label.save(f"{ref}.pdf", ContentFile(pdf), save=False)
            order.label_downloaded_at = now - timedelta(minutes=20)
            order.save(update_fields=["label", "label_downloaded_at"])
            receipt = CallbackReceipt.objects.create(
                account="default", body=b"{}", order=order, status="processed", reference=ref
            )
            for step, (before, after) in enumerate(
                [
                    ("", "processing"),
                    ("processing", "order_placed"),
                    ("order_placed", "ready_for_pickup"),
                ]
            ):
                OrderEvent.objects.create(
                    order=order,
                    from_state=before,
                    to_state=after,
                    source="callback" if step else "place",
                    occurred_at=now - timedelta(minutes=90 - step * 25),
                    receipt=receipt if step == 2 else None,
                )
        if index == 0:
            first = order
    return first


def _rejected_order() -> Order:
    """An order the provider refused, as placing leaves it."""
    return Order.objects.create(
        account="default",
        reference=None,
        placement=Order.Placement.REJECTED,
        retailer_reference="SHOP-10453",
        receiver_name="Harper Singh",
        delivery_suburb="Paddington",
        delivery_postcode="2021",
        delivery_timezone="Australia/Sydney",
        last_error="Shippit refused the order (422 invalid_attribute): delivery_postcode: "
        "2021 is not a postcode of Paddington QLD",
        raw={"retailer_reference": "SHOP-10453", "receiver_name": "Harper Singh"},
    )


def _fits(page) -> bool:
    """True when the page needs no sideways scrolling and every column header is on screen."""
    return page.evaluate(
        """() => {
            const box = document.querySelector('#changelist-form .results');
            const right = Math.min(window.innerWidth, box.getBoundingClientRect().right);
            const heads = [...document.querySelectorAll('#result_list thead th')];
            return document.documentElement.scrollWidth <= window.innerWidth
                && box.scrollWidth <= box.clientWidth
                && heads.every(th => th.getBoundingClientRect().right <= right + 0.5);
        }"""
    )


@pytest.mark.django_db(transaction=True)
def test_admin_desk_at_1280_by_800_in_a_real_browser(live_server, monkeypatch):
    playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    User.objects.create_superuser("clerk", "clerk@example.com", "correct horse")
    _demo_orders()
    rejected = _rejected_order()
    # Counted here: inside Playwright's event loop the ORM would open a connection of its own.
    needing = attention.counts(fresh=True)["total"]  # the rejected order, a failed pickup …
    base = f"{live_server.url}/admin/shipping_orders/order/"
    ARTIFACTS.mkdir(exist_ok=True)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{live_server.url}/admin/login/")
            page.fill("#id_username", "clerk")
            page.fill("#id_password", "correct horse")
            page.click("input[type=submit]")
            page.wait_for_url(f"{live_server.url}/admin/")

            # The list, with Django's app menu open as it comes: every column on screen.
            page.goto(base)
            assert page.locator("#result_list tbody tr").count() == len(ORDERS) + 1
            assert _fits(page)
            assert needing >= 2
            assert page.locator(".so-desk-attention .so-count").inner_text() == str(needing)
            page.screenshot(path=str(ARTIFACTS / "admin-changelist-1280.png"))

            page.click(".so-desk-attention")
            page.wait_for_url(f"{base}?attention=any")
            assert page.locator("#result_list tbody tr").count() == needing
            assert page.locator(".so-reason").count() >= needing
            assert _fits(page)
            page.screenshot(path=str(ARTIFACTS / "admin-needs-attention-1280.png"))

            page.goto(base)
            page.check("#action-toggle")
            page.select_option("select[name=action]", "print_labels")
            page.click("button[name=index]")
            page.wait_for_selector(".so-print-summary")
            assert "labels</strong> will be printed" in page.content()
            assert page.locator(".so-row-skipped").count() == 4  # cancelled, rejected, no label
            page.screenshot(path=str(ARTIFACTS / "admin-print-confirmation-1280.png"))

            page.goto(f"{base}{rejected.pk}/change/")
            alert = page.locator(".so-attention")
            assert "is not a postcode of Paddington" in alert.inner_text()
            page.screenshot(path=str(ARTIFACTS / "admin-rejected-order-1280.png"))
        finally:
            browser.close()

    for name in ("changelist", "needs-attention", "print-confirmation", "rejected-order"):
        assert (ARTIFACTS / f"admin-{name}-1280.png").stat().st_size > 10_000


@pytest.mark.django_db(transaction=True)
def test_admin_order_list_and_order_page_in_a_real_browser(live_server, monkeypatch):
    playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    User.objects.create_superuser("clerk", "clerk@example.com", "correct horse")
    order = _demo_orders()
    order_url = f"{live_server.url}/admin/shipping_orders/order/{order.pk}/change/"
    ARTIFACTS.mkdir(exist_ok=True)
    # Playwright's sync API runs an event loop in this thread; the ORM use after it is
    # the test's own (the live server answers from its own thread).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{live_server.url}/admin/login/")
            page.fill("#id_username", "clerk")
            page.fill("#id_password", "correct horse")
            page.click("input[type=submit]")
            page.wait_for_url(f"{live_server.url}/admin/")

            page.goto(f"{live_server.url}/admin/shipping_orders/order/")
            # Room for every column on a laptop screen: fold the app menu, as a clerk would.
            page.click("#toggle-nav-sidebar")
            rows = page.locator("#result_list tbody tr")
            assert rows.count() == len(ORDERS)
            assert page.locator(".so-badge--ready").count() == 2
            assert page.locator("a.so-label").count() == 7
            page.screenshot(path=str(ARTIFACTS / "admin-order-list.png"), full_page=True)

            page.goto(order_url)
            assert page.locator(".so-summary-ref").inner_text() == order.reference
            frame = page.locator("iframe.so-label-frame")
            assert frame.count() == 1
            page.wait_for_load_state("networkidle")
            # The PDF viewer paints only what is on screen, a moment after it is shown.
            label = page.locator(".so-label-box")
            label.scroll_into_view_if_needed()
            page.wait_for_timeout(3000)
            label.screenshot(path=str(ARTIFACTS / "admin-order-label.png"))
            # A viewport as tall as the page, so that the label stays painted in the picture.
            height = page.evaluate("document.documentElement.scrollHeight")
            page.set_viewport_size({"width": 1440, "height": height})
            page.evaluate("window.scrollTo(0, 0)")
            page.wait_for_timeout(3000)
            page.screenshot(path=str(ARTIFACTS / "admin-order-detail.png"))
        finally:
            browser.close()

    assert (ARTIFACTS / "admin-order-list.png").stat().st_size > 10_000
    assert (ARTIFACTS / "admin-order-detail.png").stat().st_size > 10_000
