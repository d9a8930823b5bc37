"""The ``SHIPPING_ORDERS`` setting: read on first use, kept until Django says it changed.

Nothing here reads ``settings`` at import time. Validating and building the
typed values is done once, on first use, and done again after Django's
``setting_changed`` signal (``override_settings`` sends it); a dict mutated
in place without that signal keeps the values already built from it. Every key has a
default (:mod:`.defaults`); a key that is not listed there is an error that names it (a
typo such as ``API_KEYS`` must not silently fall back to a default).

The package re-exports what the app and its users import from ``conf``.

Example::

    SHIPPING_ORDERS = {
        "ACCOUNTS": {
            "default": {
                "PROVIDER": "shippit",
                "API_KEY": env("SHIPPIT_API_KEY"),
                "CALLBACK_SECRETS": [env("SHIPPIT_CALLBACK_SECRET")],
                "RATE_LIMIT": "60/m",
            },
        },
    }
"""

from .accounts import AccountSettings, RateLimit, build_account
from .defaults import (
    ACCOUNT_DEFAULTS,
    BUILTIN_PROVIDERS,
    DOCUMENT_LIMIT_KEYS,
    GLOBAL_DEFAULTS,
    SETTING_NAME,
)
from .reader import ShippingSettings, shipping_settings
from .validation import account_type_errors, account_wrong_keys, global_type_errors

__all__ = [
    "ACCOUNT_DEFAULTS",
    "BUILTIN_PROVIDERS",
    "DOCUMENT_LIMIT_KEYS",
    "GLOBAL_DEFAULTS",
    "SETTING_NAME",
    "AccountSettings",
    "RateLimit",
    "ShippingSettings",
    "account_type_errors",
    "account_wrong_keys",
    "build_account",
    "global_type_errors",
    "shipping_settings",
]
