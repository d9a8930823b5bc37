"""Label answers that are not about the order asked for, or name documents alike."""

from __future__ import annotations

import pytest

from django_shipping_orders import services
from django_shipping_orders.exceptions import InvalidProviderResponse
from django_shipping_orders.models import LabelDocument, Order
from tests.conftest import load_fixture

from .conftest import make_pdf

pytestmark = pytest.mark.django_db


def _label_answer(server, reference: str, documents: dict) -> dict:
    body = load_fixture("shippit/label_200.json")
    body["response"]["order"]["tracking_number"] = reference
    body["response"]["order"]["documents"] = documents
    return body


def test_a_label_answer_about_another_order_is_refused_and_nothing_is_stored(
    label_account, scripted_server, make_order
):
    order = make_order(account=label_account, reference="PPA", state="ready_for_pickup")
    awb = {"url": f"{scripted_server.url}/b.pdf", "page_size": "a6", "file_type": "pdf"}
    scripted_server.add(200, _label_answer(scripted_server, "PPB_OTHER", {"archive_awb": awb}))
    scripted_server.add(200, make_pdf("LABEL OF PPB_OTHER"))

    with pytest.raises(InvalidProviderResponse, match="PPB_OTHER"):
        services.download_label(order.pk)

    order = Order.objects.get(pk=order.pk)
    assert not order.label and order.courier_job_id == ""
    assert not LabelDocument.objects.filter(order=order).exists()
    assert [r["path"] for r in scripted_server.requests] == ["/api/3/orders/PPA/label"]


def test_two_document_names_alike_for_64_characters_stay_two_documents(
    label_account, scripted_server, make_order
):
    order = make_order(account=label_account, reference="PPDOCS", state="ready_for_pickup")
    first, second = "x" * 70, "x" * 71
    documents = {
        first: {"url": f"{scripted_server.url}/1.pdf", "file_type": "pdf"},
        second: {"url": f"{scripted_server.url}/2.pdf", "file_type": "pdf"},
        "label": {"url": f"{scripted_server.url}/l.pdf", "file_type": "pdf"},
    }
    scripted_server.add(200, _label_answer(scripted_server, "PPDOCS", documents))
    scripted_server.add(200, make_pdf("label"))
    scripted_server.add(200, make_pdf("one"))
    scripted_server.add(200, make_pdf("two"))
    scripted_server.add(200, make_pdf("label"))

    services.download_label(order.pk)

    kinds = sorted(LabelDocument.objects.filter(order=order).values_list("kind", flat=True))
    assert len(kinds) == 3 and len(set(kinds)) == 3
    assert all(len(kind) <= 64 for kind in kinds)
    assert sum(kind.startswith("x" * 40) for kind in kinds) == 2
