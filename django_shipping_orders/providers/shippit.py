"""Shippit API v3 (https://app.shippit.com/api/3)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from ..client import quote_reference
from ..exceptions import InvalidProviderResponse, LabelNotReady, ProviderValidationError
from .base import BookingResult, LabelInfo, Provider, require_dict

PRODUCTION_URL = "https://app.shippit.com/api/3"
STAGING_URL = "https://app.staging.shippit.com/api/3"


class ShippitProvider(Provider):
    """Bearer key per merchant account; bodies wrapped as ``{"response": …}`` (mostly)."""

    name: ClassVar[str] = "shippit"
    default_base_url: ClassVar[str] = PRODUCTION_URL
    reference_keys: ClassVar[tuple[str, ...]] = ("tracking_number",)
    # Pre-signed label URLs point at Shippit's own hosts and its file bucket.
    default_label_hosts: ClassVar[tuple[str, ...]] = ("shippit.com", "amazonaws.com")
    supports_booking: ClassVar[bool] = True

    def extra_headers(self) -> dict[str, str]:
        return {"x-shippit-platform": self.account.platform} if self.account.platform else {}

    def get_label(self, reference: str) -> LabelInfo:
        try:
            body = self.client.get(
                f"orders/{quote_reference(reference)}/label", reference=reference
            )
        except ProviderValidationError as err:
            if err.status_code == 422 and not isinstance(err, LabelNotReady):
                raise LabelNotReady(
                    str(err),
                    status_code=422,
                    code=err.code,
                    description=err.description,
                    account=err.account,
                    reference=reference,
                ) from err
            raise
        payload = require_dict(self.unwrap(body), "GET label", self.account.alias)
        url = payload.get("qualified_url") or ""
        if not isinstance(url, str) or not url:
            raise InvalidProviderResponse(
                f"GET /orders/{reference}/label answered without a qualified_url.",
                account=self.account.alias,
                reference=reference,
            )
        order = payload.get("order") if isinstance(payload.get("order"), dict) else {}
        parcels = order.get("parcels") if isinstance(order.get("parcels"), list) else []
        numbers = tuple(
            str(p["label_number"]) for p in parcels if isinstance(p, dict) and p.get("label_number")
        )
        return LabelInfo(
            url=url,
            courier_job_id=str(order.get("courier_job_id") or ""),
            label_numbers=numbers,
            raw=payload,
        )

    def book(self, references: Iterable[str]) -> BookingResult:
        refs = [str(r) for r in references]
        if not 0 < len(refs) <= 1000:
            raise ValueError("Shippit books between 1 and 1000 orders at a time.")
        body = self.client.post("book", json={"orders": refs}, retry=False)
        payload = require_dict(self.unwrap(body), "POST /book", self.account.alias)
        manifest = (
            payload.get("manifest_pdf") or payload.get("manifest_url") or payload.get("manifest")
        )
        booked = payload.get("orders") if isinstance(payload.get("orders"), list) else refs
        return BookingResult(
            manifest_url=str(manifest or ""),
            references=tuple(str(_ref(item)) for item in booked),
            raw=payload,
        )

    def get_tracking(self, reference: str) -> dict[str, Any]:
        body = self.client.get(f"orders/{quote_reference(reference)}/tracking", reference=reference)
        return require_dict(self.unwrap(body), "GET tracking", self.account.alias)


def _ref(item: Any) -> Any:
    return item.get("tracking_number", "") if isinstance(item, dict) else item
