"""Provider adapters, one instance (and so one HTTP session) per account."""

from __future__ import annotations

import threading

from ..conf import AccountSettings, shipping_settings
from ..exceptions import ShippingOrdersConfigurationError
from .base import BookingResult, LabelInfo, Provider

_lock = threading.Lock()
_instances: dict[str, tuple[AccountSettings, Provider]] = {}


def get_provider(alias: str) -> Provider:
    """The adapter of account ``alias``; rebuilt when the account's settings change."""
    account = shipping_settings.account(alias)
    with _lock:
        cached = _instances.get(alias)
        if cached and cached[0] == account:
            return cached[1]
        cls = account.provider_class
        if not (isinstance(cls, type) and issubclass(cls, Provider)):
            raise ShippingOrdersConfigurationError(
                f"SHIPPING_ORDERS['ACCOUNTS'][{alias!r}]['PROVIDER'] names {cls!r}, "
                "which is not a subclass of django_shipping_orders.providers.Provider."
            )
        provider = cls(account)
        _instances[alias] = (account, provider)
        return provider


def reset_providers() -> None:
    """Forget every adapter (and close their sessions); for tests and settings changes."""
    with _lock:
        for _, provider in _instances.values():
            provider.client.session.close()
        _instances.clear()


__all__ = ["BookingResult", "LabelInfo", "Provider", "get_provider", "reset_providers"]
