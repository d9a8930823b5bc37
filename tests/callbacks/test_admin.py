"""The callback receipts admin: read-only pages without secrets, and the reprocess action."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_shipping_orders import sync
from django_shipping_orders.models import CallbackReceipt, Order

from .conftest import SECRET, post, webhook

pytestmark = pytest.mark.django_db

Status = CallbackReceipt.Status
CHANGELIST = "admin:shipping_orders_callbackreceipt_changelist"


@pytest.fixture
def staff() -> Client:
    user = User.objects.create_user("clerk", password="pw", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_callbackreceipt", "change_callbackreceipt"])
    )
    browser = Client()
    browser.force_login(user)
    return browser


@pytest.fixture
def viewer() -> Client:
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_callbackreceipt"))
    browser = Client()
    browser.force_login(user)
    return browser


def test_changelist_lists_receipts_with_links_to_their_orders(client, staff):
    post(client, webhook("PPLIST"))
    post(client, b"{bad")
    order = Order.objects.get()

    response = staff.get(reverse(CHANGELIST))

    assert response.status_code == 200
    page = response.content.decode()
    assert reverse("admin:shipping_orders_order_change", args=[order.pk]) in page
    assert "PPLIST" in page
    assert "so-badge--problem" in page  # the failed one
    assert 'value="reprocess"' in page
    assert SECRET not in page


def test_changelist_query_count_does_not_grow_with_receipts(client, staff):
    for n in range(3):
        post(client, webhook(f"PPQ{n}"))
    with CaptureQueriesContext(connection) as few:
        staff.get(reverse(CHANGELIST))
    for n in range(3, 30):
        post(client, webhook(f"PPQ{n}"))
    with CaptureQueriesContext(connection) as many:
        staff.get(reverse(CHANGELIST))

    assert 0 < len(many) == len(few) <= 12


def test_detail_shows_pretty_body_redacted_headers_and_traceback(client, staff, monkeypatch):
    monkeypatch.setattr(sync, "apply_document", lambda *a, **k: 1 / 0)
    post(client, webhook("PPDETAIL"), HTTP_AUTHORIZATION="Bearer hidden-value")
    receipt = CallbackReceipt.objects.get()

    response = staff.get(reverse("admin:shipping_orders_callbackreceipt_change", args=[receipt.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "&quot;tracking_number&quot;: &quot;PPDETAIL&quot;" in page
    assert "ZeroDivisionError" in page
    assert "Traceback" in page
    assert "[redacted]" in page
    assert SECRET not in page
    assert "hidden-value" not in page
    assert 'name="_save"' not in page  # read-only


def test_receipts_cannot_be_added_or_changed(staff):
    response = staff.get(reverse("admin:shipping_orders_callbackreceipt_add"))

    assert response.status_code == 403


def test_reprocess_action_applies_failed_receipts_and_reports_failures(client, staff, monkeypatch):
    monkeypatch.setattr(sync, "apply_document", lambda *a, **k: 1 / 0)
    post(client, webhook("PPONE"))
    post(client, webhook("PPTWO"))
    monkeypatch.undo()
    post(client, b"[1, 2]")
    ids = list(CallbackReceipt.objects.values_list("pk", flat=True))

    response = staff.post(
        reverse(CHANGELIST), {"action": "reprocess", "_selected_action": ids}, follow=True
    )

    page = response.content.decode()
    assert "2 callbacks processed (2 applied, 0 ignored)." in page
    bad = CallbackReceipt.objects.get(reference="")
    assert f"Receipt {bad.pk} can never be processed: The body must be a JSON object" in page
    assert set(Order.objects.values_list("reference", flat=True)) == {"PPONE", "PPTWO"}


def test_reprocess_action_needs_the_change_permission(client, viewer):
    post(client, webhook())
    receipt = CallbackReceipt.objects.get()

    listing = viewer.get(reverse(CHANGELIST))
    response = viewer.post(
        reverse(CHANGELIST), {"action": "reprocess", "_selected_action": [receipt.pk]}
    )

    assert listing.status_code == 200
    assert 'value="reprocess"' not in listing.content.decode()
    assert response.status_code in (200, 302, 403)
    receipt.refresh_from_db()
    assert receipt.attempts == 1


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b"[" * 50_000 + b"]" * 50_000, "[[[["),  # refused as too deep; kept for staff
        (b'{"tracking_number": "PPLONE", "note": "\\ud800"}', "\\ud800"),  # a lone surrogate
    ],
    ids=["nested-too-deep", "lone-surrogate"],
)
def test_the_page_of_a_refused_body_opens(client, staff, body, shown):
    assert post(client, body).status_code == 400
    receipt = CallbackReceipt.objects.get()

    response = staff.get(reverse("admin:shipping_orders_callbackreceipt_change", args=[receipt.pk]))

    assert response.status_code == 200
    assert shown in response.content.decode()
