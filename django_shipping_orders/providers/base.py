"""The adapter interface every provider implements.

An adapter turns one provider's wire format into :class:`OrderDocument`s and
back. It owns no database access: ``services`` and ``sync`` do that. To
support another provider, subclass :class:`Provider`, override what differs,
and name the class by dotted path in the account's ``PROVIDER``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, ClassVar
from urllib.parse import urlsplit

from ..client import ApiClient, quote_reference
from ..conf import AccountSettings
from ..documents import OrderDocument, StatusEntry, parse_order_document
from ..exceptions import DocumentError, InvalidProviderResponse, ProviderAPIError
from ..ratelimit import RateLimiter, default_limiter
from ..redaction import scrub
from .types import (
    BookingResult,
    CourierQuote,
    DocumentLink,
    LabelInfo,
    ManifestResult,
    MerchantInfo,
    QuoteOption,
    Tracking,
    TrackingEvent,
)


class Provider:
    """Base adapter: the Shippit-style order document over a JSON API.

    Override to …
    - ``default_base_url``: where production lives;
    - ``reference_keys``: where the document keeps the order reference;
    - ``auth_headers()``: how the API key is sent;
    - ``unwrap()``: how response bodies are enveloped;
    - ``build_order_payload()``: how a new order is sent.
    """

    name: ClassVar[str] = "base"
    default_base_url: ClassVar[str] = ""
    reference_keys: ClassVar[tuple[str, ...]] = ("tracking_number",)
    #: Hosts label PDFs may be fetched from when the account sets no ``LABEL_HOSTS``.
    default_label_hosts: ClassVar[tuple[str, ...]] = ()
    #: Whether this adapter's API may be reached over plain http (sandbox only).
    allows_plain_http: ClassVar[bool] = False
    supports_booking: ClassVar[bool] = False
    supports_label_documents: ClassVar[bool] = False
    #: Currency of the provider's charges when the account sets no ``CURRENCY``.
    default_currency: ClassVar[str] = ""

    def __init__(self, account: AccountSettings, *, limiter: RateLimiter | None = None) -> None:
        self.account = account
        # Every request of this adapter spends the account's shared rate budget.
        self.client = ApiClient(
            account,
            self.base_url,
            auth_headers=self.auth_headers(),
            extra_headers=self.extra_headers(),
            limiter=limiter or default_limiter(),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} account={self.account.alias!r}>"

    def with_wait(self, wait: float | None) -> Provider:
        """This adapter (same session, same budget) whose calls wait at most ``wait`` s for it.

        ``0`` looks once and raises ``RateBudgetExhausted`` at once; ``None``
        waits as long as the budget needs. See ``ApiClient.with_wait``.
        """
        if wait == self.client.wait:
            return self
        other = copy.copy(self)
        other.client = self.client.with_wait(wait)
        return other

    def with_share(self, share: float) -> Provider:
        """This adapter (same session, same budget) filling at most ``share`` of the limit.

        See ``ApiClient.with_share``.
        """
        if share == self.client.share:
            return self
        other = copy.copy(self)
        other.client = self.client.with_share(share)
        return other

    # -- configuration hooks ------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.account.base_url or self.default_base_url

    @property
    def label_hosts(self) -> tuple[str, ...]:
        """Hosts allowed to serve this account's labels."""
        return self.account.label_hosts or self.default_label_hosts

    def auth_headers(self) -> dict[str, str]:
        scheme = self.account.auth_scheme
        value = f"{scheme} {self.account.api_key}" if scheme else self.account.api_key
        return {self.account.auth_header: value}

    def extra_headers(self) -> dict[str, str]:
        return {}

    # -- parsing ------------------------------------------------------------------------

    def unwrap(self, body: Any) -> Any:
        """The payload inside a ``{"response": …}`` envelope (or the body if unwrapped)."""
        if isinstance(body, dict) and isinstance(body.get("response"), dict):
            return body["response"]
        return body

    def parse_document(self, payload: Any) -> OrderDocument:
        """An order document (Get Order or callback body) in this provider's dialect."""
        document = parse_order_document(
            payload,
            reference_keys=self.reference_keys,
            field_map=self.account.field_map,
            currency=self.account.currency or self.default_currency,
        )
        return self.map_states(self._scrub_warnings(document))

    def _scrub_warnings(self, document: OrderDocument) -> OrderDocument:
        """The document with its warnings scrubbed: they quote values the provider sent."""
        if not document.warnings:
            return document
        fields = dict(document.fields)
        fields["data_warnings"] = scrub(str(fields.get("data_warnings", "")), self.account)
        warnings = tuple(scrub(text, self.account) for text in document.warnings)
        return replace(document, fields=fields, warnings=warnings)

    def map_states(self, document: OrderDocument) -> OrderDocument:
        """The document with the provider's own states renamed through ``STATE_MAP``.

        Mapped here, once, so that the stored state, the stale-data rules, the
        refresh policy and admin filters all see a known state; the state as
        the provider sent it stays in ``raw``. Unmapped states pass unchanged.
        """
        state_map = self.account.state_map
        if not state_map:
            return document

        def known(state: str) -> str:
            return state_map.get(state.strip().lower(), state)

        fields = dict(document.fields)
        if "state" in fields:
            fields["state"] = known(fields["state"])
        history = tuple(
            StatusEntry(status=known(entry.status), time=entry.time)
            for entry in document.status_history
        )
        return replace(document, state=known(document.state), fields=fields, status_history=history)

    def _document_from_response(
        self, body: Any, what: str, *, lenient: bool = False
    ) -> OrderDocument:
        payload = self.unwrap(body)
        try:
            return self.parse_document(payload)
        except DocumentError as err:
            if lenient:
                # An answer we must not lose (it names the order just created): read
                # again, keeping every readable field and noting the others as warnings.
                try:
                    document = parse_order_document(
                        payload,
                        reference_keys=self.reference_keys,
                        field_map=self.account.field_map,
                        currency=self.account.currency or self.default_currency,
                        lenient=True,
                    )
                    return self.map_states(self._scrub_warnings(document))
                except DocumentError:
                    pass
            # Unchained and scrubbed: the field values quoted come from the provider.
            raise InvalidProviderResponse(
                f"{what}: the provider's answer is not an order document "
                f"({scrub(str(err), self.account)})",
                account=self.account.alias,
            ) from None
        except RecursionError:
            raise InvalidProviderResponse(
                f"{what}: the provider's answer is nested too deeply to be read.",
                account=self.account.alias,
            ) from None

    # -- operations ---------------------------------------------------------------------

    def get_order(self, reference: str) -> OrderDocument:
        """Fetch one order (``GET /orders/{reference}``)."""
        body = self.client.get(f"orders/{quote_reference(reference)}", reference=reference)
        document = self._document_from_response(body, f"GET /orders/{reference}")
        if document.reference != reference:
            raise InvalidProviderResponse(
                f"GET /orders/{reference} answered with order {document.reference!r}.",
                account=self.account.alias,
                reference=reference,
            )
        return document

    def build_order_payload(self, order: Mapping[str, Any]) -> Any:
        return {"order": dict(order)}

    def place_order(self, order: Mapping[str, Any]) -> OrderDocument:
        """Create an order (``POST /orders``); never retried (no idempotency key)."""
        body = self.client.post("orders", json=self.build_order_payload(order), retry=False)
        # Lenient: one odd field must not cost the reference of an order that now exists.
        return self._document_from_response(body, "POST /orders", lenient=True)

    def cancel_order(self, reference: str) -> OrderDocument | None:
        """Cancel an order (``DELETE /orders/{reference}``); the answer, when it is a document."""
        body = self.client.delete(f"orders/{quote_reference(reference)}", reference=reference)
        payload = self.unwrap(body)
        if isinstance(payload, dict) and not any(payload.get(k) for k in self.reference_keys):
            payload = {**payload, self.reference_keys[0]: reference}
        if isinstance(payload, dict) and "state" not in payload:
            payload = {**payload, "state": "cancelled"}
        try:
            return self.parse_document(payload)
        except DocumentError:
            return None

    def get_label(self, reference: str) -> LabelInfo:
        """Where the label is; raises ``LabelNotReady`` until a courier is allocated."""
        raise NotImplementedError(f"{type(self).__name__} has no label endpoint")

    def book(self, references: Iterable[str]) -> BookingResult:
        """Book labelled orders for pickup: one result per courier manifest."""
        raise NotImplementedError(f"{type(self).__name__} cannot book pickups")

    def get_tracking(self, reference: str) -> Tracking:
        """The courier's tracking events of an order."""
        raise NotImplementedError(f"{type(self).__name__} has no tracking endpoint")

    def get_merchant(self) -> MerchantInfo:
        """Who the API key belongs to (a cheap way to check the key)."""
        raise NotImplementedError(f"{type(self).__name__} has no merchant endpoint")

    def set_webhook_url(self, url: str) -> MerchantInfo:
        """Register ``url`` as the account's webhook URL at the provider."""
        raise NotImplementedError(f"{type(self).__name__} cannot register a webhook URL")

    def get_quotes(self, quote: Mapping[str, Any]) -> tuple[CourierQuote, ...]:
        """Delivery options and prices for a destination and parcels."""
        raise NotImplementedError(f"{type(self).__name__} has no quote endpoint")

    def is_allowed_label_url(self, url: str) -> bool:
        """True when ``url`` may be downloaded: https on an allowed host (or the sandbox)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme != "https" and not (self.allows_plain_http and parts.scheme == "http"):
            return False
        return any(host == allowed or host.endswith("." + allowed) for allowed in self.label_hosts)


def require_dict(body: Any, what: str, account: str) -> dict[str, Any]:
    """``body`` if it is a JSON object, else ``InvalidProviderResponse``."""
    if not isinstance(body, dict):
        raise InvalidProviderResponse(f"{what}: expected a JSON object.", account=account)
    return body


__all__ = [
    "BookingResult",
    "CourierQuote",
    "DocumentLink",
    "LabelInfo",
    "ManifestResult",
    "MerchantInfo",
    "Provider",
    "ProviderAPIError",
    "QuoteOption",
    "Tracking",
    "TrackingEvent",
    "require_dict",
]
