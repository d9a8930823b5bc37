"""Labels: downloaded from allowed hosts only, checked, stored privately, served to staff, merged."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.urls import reverse

from django_shipping_orders import labels, services, signals, tasks
from django_shipping_orders.exceptions import LabelError
from django_shipping_orders.models import Order
from django_shipping_orders.sync import apply_document

from .conftest import make_pdf, pdf_page_texts, read_label

pytestmark = pytest.mark.django_db


def test_label_is_downloaded_stored_and_served_inline(
    label_account, scripted_server, make_order, viewer, client
):
    pdf = make_pdf("Label PP1001")
    scripted_server.add(200, pdf, {"Content-Type": "application/pdf"})
    order = make_order(
        account=label_account, label_url=f"{scripted_server.url}/labels/PP1001.pdf?sig=x"
    )
    stored = []
    signals.label_stored.connect(lambda sender, order, **kw: stored.append(order.pk), weak=False)
    try:
        services.download_label(order.pk)
    finally:
        signals.label_stored.receivers.clear()

    order.refresh_from_db()
    assert order.label_downloaded_at is not None
    assert read_label(order) == pdf
    assert stored == [order.pk]
    assert scripted_server.requests[0]["path"] == "/labels/PP1001.pdf?sig=x"
    assert "label-test-key" not in str(scripted_server.requests[0]["headers"])

    client.force_login(viewer)
    response = client.get(reverse("shipping_orders:label", args=[order.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == pdf
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Content-Type-Options"] == "nosniff"
    download = client.get(reverse("shipping_orders:label", args=[order.pk]) + "?download=1")
    assert download["Content-Disposition"].startswith("attachment")
    download.close()


def test_stored_label_is_not_downloaded_again(label_account, scripted_server, make_order):
    order = make_order(
        account=label_account, label_url=f"{scripted_server.url}/l.pdf", label=make_pdf("x")
    )
    services.download_label(order.pk)
    assert scripted_server.requests == []


def test_label_url_from_the_label_endpoint_when_the_order_has_none(
    label_account, scripted_server, make_order
):
    """Shippit's Get Order carries no label URL: the label endpoint gives a pre-signed one."""
    pdf = make_pdf("Label PP1001")
    scripted_server.add(200, {"response": {"qualified_url": f"{scripted_server.url}/files/l.pdf"}})
    scripted_server.add(200, pdf)
    order = make_order(account=label_account, courier_job_id="CP123")

    services.download_label(order.pk)

    order.refresh_from_db()
    assert [r["path"] for r in scripted_server.requests] == [
        f"/api/3/orders/{order.reference}/label",
        "/files/l.pdf",
    ]
    assert read_label(order) == pdf


def test_sync_queues_the_download_once_the_label_url_is_known(
    label_account, scripted_server, make_order, django_capture_on_commit_callbacks, get_order_200
):
    pdf = make_pdf("Label PP1001")
    scripted_server.add(200, pdf)
    order = make_order(account=label_account)
    from django_shipping_orders.providers import get_provider

    document = get_provider(label_account).parse_document(
        {
            **get_order_200,
            "tracking_number": order.reference,
            "state": "ready_for_pickup",
            "label_url": f"{scripted_server.url}/labels/{order.reference}.pdf",
        }
    )
    with django_capture_on_commit_callbacks(execute=True):
        apply_document(label_account, document, "refresh")

    order.refresh_from_db()
    assert read_label(order) == pdf


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/label.pdf",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/label.pdf",
        "file:///etc/passwd",
        "https://127.0.0.1.evil.example/label.pdf",
    ],
)
def test_label_url_on_a_host_off_the_allow_list_is_refused(
    label_account, scripted_server, make_order, url
):
    order = make_order(account=label_account, label_url=url)
    with pytest.raises(LabelError, match="allow-list"):
        services.download_label(order.pk)
    order.refresh_from_db()
    assert not order.label
    assert scripted_server.requests == []


def test_plain_http_is_refused_for_a_real_provider(scripted_server, make_order):
    order = make_order(account="default", label_url=f"{scripted_server.url}/label.pdf")
    with pytest.raises(LabelError, match="not an https host"):
        services.download_label(order.pk)
    assert scripted_server.requests == []


def test_allowed_host_that_resolves_to_a_private_address_is_refused(make_order, monkeypatch):
    """A forged callback may name an allowed domain whose DNS points inside the network."""
    seen = []

    def fake_getaddrinfo(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        seen.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 443))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    order = make_order(account="default", label_url="https://labels.shippit.com/a.pdf")
    with pytest.raises(LabelError, match="non-public address"):
        services.download_label(order.pk)
    assert seen == ["labels.shippit.com"]


def test_redirect_off_the_allow_list_is_not_followed(label_account, scripted_server, make_order):
    scripted_server.add(302, b"", {"Location": "http://10.0.0.1/internal.pdf"})
    order = make_order(account=label_account, label_url=f"{scripted_server.url}/labels/a.pdf")
    with pytest.raises(LabelError, match="allow-list"):
        services.download_label(order.pk)
    assert len(scripted_server.requests) == 1


def test_redirect_within_the_allow_list_is_followed(label_account, scripted_server, make_order):
    pdf = make_pdf("moved")
    scripted_server.add(302, b"", {"Location": "/labels/b.pdf"})
    scripted_server.add(200, pdf)
    order = make_order(account=label_account, label_url=f"{scripted_server.url}/labels/a.pdf")
    services.download_label(order.pk)
    order.refresh_from_db()
    assert read_label(order) == pdf
    assert scripted_server.requests[1]["path"] == "/labels/b.pdf"


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Access denied</body></html>",
        b'{"error": "expired"}',
        b"%PDF-1.4\nthis is not really a pdf",
    ],
    ids=["html", "json", "broken-pdf"],
)
def test_a_file_that_is_not_a_pdf_is_refused(label_account, scripted_server, make_order, body):
    scripted_server.add(200, body)
    order = make_order(account=label_account, label_url=f"{scripted_server.url}/labels/a.pdf")
    with pytest.raises(LabelError, match="not a PDF"):
        services.download_label(order.pk)
    order.refresh_from_db()
    assert not order.label
    assert order.label_downloaded_at is None


def test_an_oversized_label_is_refused(label_account, scripted_server, make_order, settings):
    settings.SHIPPING_ORDERS = {**settings.SHIPPING_ORDERS, "LABEL_MAX_BYTES": 500}
    scripted_server.add(200, make_pdf("big label " * 20, "page two", "page three"))
    order = make_order(account=label_account, label_url=f"{scripted_server.url}/labels/a.pdf")
    with pytest.raises(LabelError, match="LABEL_MAX_BYTES"):
        services.download_label(order.pk)
    order.refresh_from_db()
    assert not order.label


def test_the_queued_task_logs_a_refusal_instead_of_failing(
    label_account, scripted_server, make_order, caplog
):
    order = make_order(account=label_account, label_url="https://evil.example/label.pdf")
    outcome = tasks.download_label(order.pk)
    assert outcome.startswith("not stored")
    assert "evil.example" in caplog.text
    assert "label-test-key" not in caplog.text


def test_merged_pdf_has_every_label_page_in_the_order_given(make_order):
    first = make_order(label=make_pdf("first"))
    second = make_order(label=make_pdf("second A", "second B"))
    third = make_order(label=make_pdf("third"))

    merged = labels.merge_labels([third, first, second])

    assert pdf_page_texts(merged) == ["third", "first", "second A", "second B"]


def test_merging_names_the_orders_without_a_label(make_order):
    with_label = make_order(label=make_pdf("one"))
    without = make_order()
    with pytest.raises(LabelError, match=without.reference):
        labels.merge_labels([with_label, without])


def test_labels_storage_has_no_public_url(make_order):
    order = make_order(label=make_pdf("one"))
    with pytest.raises(ValueError, match="private"):
        _ = order.label.url
    assert Order.objects.get(pk=order.pk).label.name.startswith("shipping_labels/default/")


def test_label_from_the_sandbox_is_stored_once_the_courier_is_allocated(
    shipping_sandbox, settings, django_capture_on_commit_callbacks, get_order_200
):
    from django_shipping_orders import services

    shipping_sandbox.add_account("sandbox-label-key")
    settings.SHIPPING_ORDERS = {
        **settings.SHIPPING_ORDERS,
        "ACCOUNTS": {
            "sbx": {
                "PROVIDER": "sandbox",
                "API_KEY": "sandbox-label-key",
                "BASE_URL": shipping_sandbox.shippit_url,
            }
        },
    }
    payload = {k: v for k, v in get_order_200.items() if k != "state"}
    order = services.place_order("sbx", payload)
    shipping_sandbox.process_all()

    with django_capture_on_commit_callbacks(execute=True):
        services.refresh_order(order)

    order.refresh_from_db()
    assert order.courier_job_id
    assert order.label_downloaded_at is not None
    [page] = pdf_page_texts(read_label(order))
    assert order.reference in page and order.courier_job_id in page
