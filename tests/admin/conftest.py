"""Fixtures for the admin, labels and API tests: users, orders, label PDFs."""

from __future__ import annotations

import copy
import io
from collections.abc import Callable
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.base import ContentFile
from django.utils import timezone

from django_shipping_orders.models import Order
from django_shipping_orders.sandbox.pdf import render_pdf


def make_pdf(*pages: str) -> bytes:
    """A real PDF with one page per text (each page reads its text)."""
    return render_pdf([[text] for text in pages] or [["label"]])


def read_label(order: Order) -> bytes:
    with order.label.open("rb") as handle:
        return handle.read()


def pdf_page_texts(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text().strip() for page in PdfReader(io.BytesIO(data)).pages]


@pytest.fixture
def label_account(settings: Any, scripted_server: Any) -> str:
    """An account on the sandbox provider whose API and label host is the scripted server."""
    config = copy.deepcopy(settings.SHIPPING_ORDERS)
    config["ACCOUNTS"]["labels"] = {
        "PROVIDER": "sandbox",
        "API_KEY": "label-test-key",
        "BASE_URL": f"{scripted_server.url}/api/3",
        "MAX_RETRIES": 0,
    }
    settings.SHIPPING_ORDERS = config
    return "labels"


@pytest.fixture
def make_order(db: None) -> Callable[..., Order]:
    counter = iter(range(1, 1_000_000))

    def make(**fields: Any) -> Order:
        n = next(counter)
        values: dict[str, Any] = {
            "account": "default",
            "reference": f"PP{1000 + n}",
            "retailer_reference": f"R-{1000 + n}",
            "state": "order_placed",
            "receiver_name": f"Receiver {n}",
            "delivery_suburb": "Sydney",
            "delivery_postcode": "2000",
            "delivery_timezone": "Australia/Sydney",
            "user_email": f"buyer{n}@example.com",
            "raw": {"tracking_number": f"PP{1000 + n}", "state": "order_placed"},
        }
        label = fields.pop("label", None)
        values.update(fields)
        order = Order.objects.create(**values)
        if label is not None:
            order.label.save(f"{order.reference}.pdf", ContentFile(label), save=False)
            order.label_downloaded_at = timezone.now()
            order.save(update_fields=["label", "label_downloaded_at"])
        return order

    return make


@pytest.fixture(autouse=True)
def _label_files(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test stores its labels in its own private folder."""
    from django_shipping_orders.models import LabelDocument, Manifest
    from django_shipping_orders.storage import PrivateLabelStorage

    storage = PrivateLabelStorage(location=str(tmp_path / "labels"))
    for field in (
        Order._meta.get_field("label"),
        Manifest._meta.get_field("pdf"),
        LabelDocument._meta.get_field("file"),
    ):
        monkeypatch.setattr(field, "storage", storage)


def _user(username: str, *, staff: bool = True, perms: tuple[str, ...] = ()) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", "pw", is_staff=staff)
    for codename in perms:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="shipping_orders", codename=codename)
        )
    return User.objects.get(pk=user.pk)  # fresh permission cache


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    return _user


@pytest.fixture
def viewer(db: None) -> User:
    """A clerk who may look at orders and labels, and do nothing else."""
    return _user("viewer", perms=("view_order",))


@pytest.fixture
def clerk(db: None) -> User:
    """A clerk with every shipping permission."""
    return _user(
        "clerk",
        perms=("view_order", "refresh_order", "cancel_order", "book_order", "print_label"),
    )


SYDNEY_PICKUP = datetime(2025, 12, 29, 21, 59, 59, tzinfo=dt_timezone.utc)  # 08:59 AEDT next day

#: An order waiting for its courier, with a tracking link and a pickup time: every
#: column of the list and every tracking field of the API has something to show.
READY_FOR_PICKUP: dict[str, Any] = {
    "state": "ready_for_pickup",
    "courier_allocation": "CouriersPlease",
    "courier_job_id": "CPX123",
    "tracking_url": "https://track.example/CPX123",
    "pickup_at": SYDNEY_PICKUP,
}
AN_HOUR_AGO = timedelta(hours=1)
