"""Sender.lv Shipment API (https://api.sender.lv/api/v1).

Its order document is read in the same shape as Shippit's, keyed by
``order_reference``; field names that differ are renamed per account through
``FIELD_MAP``, and states beyond the known ones through ``STATE_MAP``. The
auth header's name and format are settings (``AUTH_HEADER``, ``AUTH_SCHEME``)
because the provider does not publish them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from .base import Provider

PRODUCTION_URL = "https://api.sender.lv/api/v1"
SANDBOX_URL = "https://api.sender.lv/api/sandbox/v1"


class SenderLvProvider(Provider):
    """Get Order by reference; the callback body is the same document, sent once."""

    name: ClassVar[str] = "senderlv"
    default_base_url: ClassVar[str] = PRODUCTION_URL
    reference_keys: ClassVar[tuple[str, ...]] = ("order_reference", "reference", "tracking_number")
    default_label_hosts: ClassVar[tuple[str, ...]] = ("sender.lv",)
    default_currency: ClassVar[str] = "EUR"

    def extra_headers(self) -> dict[str, str]:
        return {"x-api-lang-iso": self.account.language} if self.account.language else {}

    def build_order_payload(self, order: Mapping[str, Any]) -> Any:
        return dict(order)
