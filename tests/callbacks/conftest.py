"""Fixtures of the callback tests: accounts with known secrets and a CSRF-enforcing client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from copy import deepcopy
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from tests.conftest import load_fixture

SECRET = "cb-secret-3b7e9d41-never-logged"
OLD_SECRET = "cb-old-secret-77aa02-never-logged"
API_KEY = "sk-test-91c2e0-never-logged"
HEADER = "X-Shipping-Callback-Secret"


def account_config(**extra: Any) -> dict[str, Any]:
    return {
        "PROVIDER": "shippit",
        "API_KEY": API_KEY,
        "BASE_URL": "http://127.0.0.1:9/api/3",  # nothing listens: no test reaches a network
        "CALLBACK_SECRETS": [SECRET],
        "MAX_RETRIES": 0,
        "BACKOFF_FACTOR": 0,
        "TIMEOUT": 3,
        **extra,
    }


@pytest.fixture(autouse=True)
def callback_accounts(settings: Any) -> dict[str, Any]:
    """Accounts ``default`` (Shippit) and ``baltic`` (Sender.lv), both with SECRET."""
    settings.SHIPPING_ORDERS = {
        "ACCOUNTS": {
            "default": account_config(),
            "baltic": account_config(PROVIDER="senderlv", BASE_URL="http://127.0.0.1:9/api/v1"),
        }
    }
    cache.clear()
    return settings.SHIPPING_ORDERS


def set_account(settings: Any, alias: str = "default", **changes: Any) -> None:
    """Change one account's settings (a copy, so override_settings sees a new value)."""
    value = deepcopy(settings.SHIPPING_ORDERS)
    value["ACCOUNTS"][alias].update(changes)
    settings.SHIPPING_ORDERS = value


@pytest.fixture
def client() -> Client:
    return Client(enforce_csrf_checks=True)


def callback_url(account: str = "default", token: str | None = None) -> str:
    if token is None:
        return reverse("shipping_orders:callback", args=[account])
    return reverse("shipping_orders:callback-token", args=[account, token])


def post(
    client: Client,
    body: Any,
    *,
    account: str = "default",
    secret: str | None = SECRET,
    token: str | None = None,
    content_type: str = "application/json",
    **headers: Any,
) -> Any:
    """POST ``body`` (bytes, or JSON-encoded) to the callback URL, secret in the header."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    if secret is not None:
        headers["HTTP_X_SHIPPING_CALLBACK_SECRET"] = secret
    return client.post(
        callback_url(account, token), data=data, content_type=content_type, **headers
    )


def webhook(
    reference: str = "PPYvZCTod5bkD", upto: str | None = None, **changes: Any
) -> dict[str, Any]:
    """The documented Shippit webhook, optionally cut back to the state ``upto``."""
    payload = load_fixture("shippit_webhook.json")
    payload["tracking_number"] = reference
    if upto is not None:
        history = payload["status_history"]
        index = next(i for i, entry in enumerate(history) if entry["status"] == upto)
        payload["status_history"] = history[index:]
        payload["current_state"] = upto
    payload.update(changes)
    return payload


def order_document(
    reference: str = "PPDOC0001", parcels: int = 1, **changes: Any
) -> dict[str, Any]:
    """The documented Get Order body with a reference (the documented example has none)."""
    payload = load_fixture("get_order_200.json")
    payload["tracking_number"] = reference
    payload["parcel_attributes"] = [
        {**payload["parcel_attributes"][0], "label_number": f"LBL{reference}{i:02d}"}
        for i in range(parcels)
    ]
    payload.update(changes)
    return payload


@pytest.fixture
def captured_signals() -> Iterator[dict[str, list[dict[str, Any]]]]:
    from django_shipping_orders import signals

    seen: dict[str, list[dict[str, Any]]] = {"received": [], "processed": [], "failed": []}
    receivers = {
        "received": lambda sender, **kw: seen["received"].append(kw),
        "processed": lambda sender, **kw: seen["processed"].append(kw),
        "failed": lambda sender, **kw: seen["failed"].append(kw),
    }
    signals.callback_received.connect(receivers["received"], weak=False)
    signals.callback_processed.connect(receivers["processed"], weak=False)
    signals.callback_failed.connect(receivers["failed"], weak=False)
    yield seen
    signals.callback_received.disconnect(receivers["received"])
    signals.callback_processed.disconnect(receivers["processed"])
    signals.callback_failed.disconnect(receivers["failed"])
