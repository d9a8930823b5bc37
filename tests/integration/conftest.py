"""Two shipping accounts pointed at a fresh provider sandbox on loopback.

``shop`` configures the app as a user would (``SHIPPING_ORDERS`` through
``override_settings``): account ``sandbox`` speaks Shippit's dialect, account
``sandbox-senderlv`` Sender.lv's, each with an API key the sandbox knows.
Retries are few and backoff is zero so that fault tests stay fast.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.test import override_settings

from django_shipping_orders.providers import get_provider, reset_providers
from django_shipping_orders.sandbox import SandboxServer

SHIPPIT = "sandbox"
SENDERLV = "sandbox-senderlv"
ALIASES = (SHIPPIT, SENDERLV)
DIALECTS = {SHIPPIT: "shippit", SENDERLV: "senderlv"}

#: Credentials that must never show up in an exception, a log line or a stored error.
API_KEYS = {
    SHIPPIT: "sk_live_shippit_INTEGRATION_8f3a1c",
    SENDERLV: "sk_live_senderlv_INTEGRATION_2b9d7e",
}
CALLBACK_SECRETS = {
    SHIPPIT: "whsec_shippit_INTEGRATION_44aa",
    SENDERLV: "whsec_senderlv_INTEGRATION_91ff",
}
SECRETS = (*API_KEYS.values(), *CALLBACK_SECRETS.values())

#: Account settings that keep fault tests fast: one retry, no backoff, short timeouts.
FAST = {
    "MAX_RETRIES": 1,
    "BACKOFF_FACTOR": 0,
    "CONNECT_TIMEOUT": 2.0,
    "TIMEOUT": 5.0,
    "RATE_LIMIT": "10000/m",
}

ORDER = {
    "retailer_reference": "WEB-1001",
    "retailer_order_number": "1001",
    "receiver_name": "Ada Lovelace",
    "receiver_contact_number": "0400123456",
    "delivery_address": "12 Example Street",
    "delivery_suburb": "Sydney",
    "delivery_state": "NSW",
    "delivery_postcode": "2000",
    "delivery_country_code": "AU",
    "parcel_attributes": [
        {"qty": 1, "length": 0.3, "width": 0.2, "depth": 0.1, "weight": 1.5},
        {"qty": 1, "length": 0.5, "width": 0.4, "depth": 0.3, "weight": 4.25},
    ],
    "product_attributes": [
        {"sku": "MUG-1", "title": "Mug", "quantity": 2, "price": Decimal("12.50")},
        {"sku": "TEA-9", "title": "Tea, loose leaf", "quantity": 1, "price": Decimal("7.95")},
    ],
}


def order_payload(**changes: Any) -> dict[str, Any]:
    """The order above, with ``changes``."""
    return {**ORDER, **changes}


@dataclass
class Shop:
    """The app configured against ``sandbox``; ``configure()`` changes one account's settings."""

    sandbox: SandboxServer
    label_root: str
    callback_base: str | None = None
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    _override: Any = None

    def account_settings(self, alias: str) -> dict[str, Any]:
        base_url = self.sandbox.shippit_url if alias == SHIPPIT else self.sandbox.senderlv_url
        return {
            "PROVIDER": alias,  # the built-in names "sandbox" and "sandbox-senderlv"
            "BASE_URL": base_url,
            "API_KEY": API_KEYS[alias],
            "CALLBACK_SECRETS": [CALLBACK_SECRETS[alias]],
            **FAST,
            **self.changes.get(alias, {}),
        }

    def setting(self) -> dict[str, Any]:
        return {
            "ACCOUNTS": {alias: self.account_settings(alias) for alias in ALIASES},
            "LABEL_ROOT": self.label_root,
        }

    def apply(self) -> None:
        """(Re)install the setting; adapters are rebuilt when their account changes."""
        if self._override is not None:
            self._override.disable()
        self._override = override_settings(SHIPPING_ORDERS=self.setting())
        self._override.enable()

    def configure(self, alias: str, **changes: Any) -> None:
        """Change account ``alias``'s settings, e.g. ``configure(SHIPPIT, TIMEOUT=0.2)``."""
        self.changes.setdefault(alias, {}).update(changes)
        self.apply()

    def client(self, alias: str) -> Any:
        """The HTTP client the app uses for ``alias`` (to record its backoff sleeps)."""
        return get_provider(alias).client

    def record_sleeps(self, alias: str) -> list[float]:
        """Replace the client's backoff sleep by a recorder; returns the list of delays."""
        recorded: list[float] = []
        self.client(alias)._sleep = recorded.append
        return recorded

    def close(self) -> None:
        if self._override is not None:
            self._override.disable()
            self._override = None


@pytest.fixture
def shop(shipping_sandbox: SandboxServer, tmp_path: Any) -> Iterator[Shop]:
    """Both accounts configured against a fresh sandbox, their keys registered there."""
    for alias in ALIASES:
        shipping_sandbox.add_account(API_KEYS[alias], dialect=DIALECTS[alias])
    # The rate budget and 429 penalties live in the cache: start every test with none.
    cache.clear()
    reset_providers()
    shop = Shop(shipping_sandbox, str(tmp_path / "labels"))
    shop.apply()
    try:
        yield shop
    finally:
        shop.close()
        reset_providers()
        cache.clear()


@pytest.fixture(autouse=True)
def _no_secrets_in_the_apps_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Whatever a test does, nothing the app logs carries an API key or a callback secret."""
    caplog.set_level(logging.DEBUG, logger="django_shipping_orders")
    yield
    records = [*caplog.get_records("setup"), *caplog.get_records("call")]
    for record in records:
        if record.name.startswith("django_shipping_orders"):
            text = record.getMessage()
            for secret in SECRETS:
                assert secret not in text, f"a secret leaked into the log: {text!r}"


@contextlib.contextmanager
def raises_without_secrets(expected: type[BaseException]) -> Iterator[pytest.ExceptionInfo[Any]]:
    """``pytest.raises`` that also checks no API key or callback secret is in the error.

    The message, the repr, every exception in the ``__cause__`` / ``__context__``
    chain and the headers of the request the error carries are all searched.
    """
    with pytest.raises(expected) as info:
        yield info
    assert_no_secrets(info.value)


def assert_no_secrets(error: BaseException) -> None:
    """No credential in ``error``, its chain or the request it carries."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts = [str(current), repr(current), *(str(a) for a in current.args)]
        response = getattr(current, "response", None)
        request = getattr(response, "request", None)
        if request is not None:
            texts.append(str(dict(request.headers)))
            texts.append(str(request.url))
        for text in texts:
            for secret in SECRETS:
                assert secret not in text, (
                    f"a secret leaked into {type(current).__name__}: {text!r}"
                )
        current = current.__cause__ or current.__context__
