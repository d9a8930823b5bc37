"""A provider of one's own, written as docs/providers.md shows, works through every hook."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest

from django_shipping_orders import services
from django_shipping_orders.client import quote_reference
from django_shipping_orders.documents import OrderDocument
from django_shipping_orders.exceptions import OrderNotFound
from django_shipping_orders.models import Order
from django_shipping_orders.providers import get_provider
from django_shipping_orders.providers.base import LabelInfo, Provider, require_dict

from .helpers import API_KEY, account


class AcmeProvider(Provider):
    """Acme Freight: Shippit-like orders, keyed by "consignment", wrapped in "data"."""

    name: ClassVar[str] = "acme"
    default_base_url: ClassVar[str] = "https://api.acme-freight.example/v2"
    reference_keys: ClassVar[tuple[str, ...]] = ("consignment",)

    def auth_headers(self) -> dict[str, str]:
        return {"X-Acme-Key": self.account.api_key}

    def extra_headers(self) -> dict[str, str]:
        return {"Acme-Version": "2024-01"}

    def unwrap(self, body: Any) -> Any:
        return body.get("data", body) if isinstance(body, dict) else body

    def build_order_payload(self, order: dict[str, Any]) -> Any:
        return {"shipment": order}

    def parse_document(self, payload: Any) -> OrderDocument:
        if isinstance(payload, dict) and "status" in payload:
            payload = {**payload, "state": payload["status"]}
        return super().parse_document(payload)

    def get_label(self, reference: str) -> LabelInfo:
        body = self.client.get(
            f"consignments/{quote_reference(reference)}/label", reference=reference
        )
        data = require_dict(self.unwrap(body), "GET label", self.account.alias)
        return LabelInfo(url=data["pdf_url"], courier_job_id=data.get("carrier_ref", ""))


@pytest.fixture
def acme(scripted_server):
    with account(
        scripted_server.url,
        provider="tests.core.test_custom_provider.AcmeProvider",
        STATE_MAP={"out": "with_driver"},
    ):
        yield scripted_server


def test_a_custom_adapter_uses_its_hooks(acme):
    acme.add(200, {"data": {"consignment": "AC-1", "status": "OUT", "receiver_name": "R"}})
    document = get_provider("default").get_order("AC-1")
    assert document.reference == "AC-1"
    assert document.state == "with_driver"  # parse_document, then STATE_MAP
    headers = acme.requests[0]["headers"]
    assert headers["X-Acme-Key"] == API_KEY
    assert headers["Acme-Version"] == "2024-01"
    assert "Authorization" not in headers


def test_a_state_map_target_is_stored_as_the_app_spells_it(scripted_server):
    """A target written with spaces or capitals passes the check, so it must be stored as the
    known state itself: claims and admin filters compare the stored state in SQL."""
    with account(
        scripted_server.url,
        provider="tests.core.test_custom_provider.AcmeProvider",
        STATE_MAP={"new": " Processing ", "out": "WITH_DRIVER"},
    ):
        scripted_server.add(200, {"data": {"consignment": "AC-3", "status": "NEW"}})
        scripted_server.add(200, {"data": {"consignment": "AC-4", "status": "out"}})
        provider = get_provider("default")
        assert provider.get_order("AC-3").state == "processing"
        assert provider.get_order("AC-4").state == "with_driver"


def test_a_custom_adapter_places_and_labels(acme):
    acme.add(200, {"data": {"consignment": "AC-2", "status": "processing"}})
    acme.add(200, {"data": {"pdf_url": "https://labels.example/AC-2.pdf", "carrier_ref": "CR9"}})
    provider = get_provider("default")
    assert provider.place_order({"retailer_reference": "R1"}).reference == "AC-2"
    assert json.loads(acme.requests[0]["body"]) == {"shipment": {"retailer_reference": "R1"}}
    label = provider.get_label("AC-2")
    assert (label.url, label.courier_job_id) == ("https://labels.example/AC-2.pdf", "CR9")


@pytest.mark.django_db
def test_a_custom_adapter_gets_the_typed_errors_and_the_services(acme):
    order = Order.objects.create(account="default", reference="AC-404")
    acme.add(404, {"error": "not_found", "error_description": "No such consignment"})
    with pytest.raises(OrderNotFound, match="No such consignment"):
        services.refresh_order(order)
    acme.add(200, {"data": {"consignment": "AC-404", "status": "in_transit"}})
    assert services.refresh_order(order).order.state == "in_transit"
