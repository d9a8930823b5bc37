"""Checks of each account of ``SHIPPING_ORDERS`` (E002, E003, E004, E005, E006, E007, W001, W004)."""

from __future__ import annotations

import ipaddress
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from ..conf import (
    ACCOUNT_DEFAULTS,
    BUILTIN_PROVIDERS,
    SETTING_NAME,
    RateLimit,
    account_type_errors,
    account_wrong_keys,
    build_account,
)
from ..exceptions import ShippingOrdersConfigurationError
from .hints import DOCS, unknown_key_hint


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_account(alias: str, given: Any) -> list[CheckMessage]:
    """Every problem of one account's dict at once, each key checked as if the others were right."""
    where = f"{SETTING_NAME}['ACCOUNTS'][{alias!r}]"
    if not isinstance(given, dict):
        return [
            Error(
                f"{where} must be a dict, got {type(given).__name__}.",
                hint='Write the account as a dict: {"PROVIDER": "shippit", "API_KEY": ...}. '
                + DOCS,
                id="shipping_orders.E007",
            )
        ]
    messages: list[CheckMessage] = []
    unknown = sorted(str(key) for key in set(given) - set(ACCOUNT_DEFAULTS))
    if unknown:
        messages.append(
            Error(
                f"{where} has unknown key(s): {', '.join(unknown)}.",
                hint=unknown_key_hint(unknown, ACCOUNT_DEFAULTS),
                id="shipping_orders.E006",
            )
        )
    type_errors = account_type_errors(alias, given)
    messages.extend(Error(message, hint=DOCS, id="shipping_orders.E007") for message in type_errors)
    # Check the rest of the account as if the keys above were left out, so that
    # every mistake shows at once instead of one per round of fixing.
    wrong = account_wrong_keys(given)
    given = {
        key: value for key, value in given.items() if key in ACCOUNT_DEFAULTS and key not in wrong
    }
    # Read from ``given`` (not shipping_settings), so that a broken top-level
    # key elsewhere does not hide the problems of the accounts.
    account = (
        build_account(alias, given)
        if isinstance(given.get("PROVIDER"), str) and given["PROVIDER"]
        else None
    )
    provider_class = None
    if account is None:
        messages.append(_unknown_provider(where, None))
    else:
        try:
            provider_class = account.provider_class
        except ShippingOrdersConfigurationError:
            messages.append(_unknown_provider(where, account.provider))
        else:
            from ..providers.base import Provider

            if not (isinstance(provider_class, type) and issubclass(provider_class, Provider)):
                messages.append(_unknown_provider(where, account.provider, imported=True))
                provider_class = None
    api_key = given.get("API_KEY")
    # Spaces, or characters that print nothing (a zero-width space pasted with the key).
    blank = isinstance(api_key, str) and not any(_visible(c) for c in api_key)
    if (not api_key or blank) and "API_KEY" not in wrong:
        messages.append(
            Error(
                f"{where} has no API_KEY{' (only spaces or invisible characters)' if api_key else ''}.",
                hint="Set API_KEY from the environment (never commit it). " + DOCS,
                id="shipping_orders.E003",
            )
        )
    try:
        RateLimit.parse(given.get("RATE_LIMIT", ACCOUNT_DEFAULTS["RATE_LIMIT"]))
    except ValueError as err:
        messages.append(
            Error(
                f"{where}['RATE_LIMIT'] is malformed: {err}.",
                hint="Write it as requests/window: '60/m', '1000/60s', '5/s', '3600/h'.",
                id="shipping_orders.E004",
            )
        )
    base_url = (account.base_url if account else None) or (
        getattr(provider_class, "default_base_url", "") if provider_class else ""
    )
    parts = urlsplit(base_url or "")
    if (
        base_url
        and parts.scheme != "https"
        and not settings.DEBUG
        and not _is_loopback(parts.hostname or "")
        # The sandbox speaks plain http on purpose and holds no real credentials.
        and not getattr(provider_class, "allows_plain_http", False)
    ):
        messages.append(
            Error(
                f"{where} talks to {parts.scheme}://{parts.hostname} over plain http "
                "while DEBUG is off.",
                hint="Use an https BASE_URL: the API key would cross the network in clear text.",
                id="shipping_orders.E005",
            )
        )
    if given.get("CALLBACK_SECRET_PARAM"):
        messages.append(
            Warning(
                f"{where} accepts the callback secret in the query string "
                f"(?{given['CALLBACK_SECRET_PARAM']}=...).",
                hint="Web servers, proxies and error reports log query strings, secret included. "
                "Move the provider to the X-Shipping-Callback-Secret header or a URL token "
                "(register_shipping_webhooks), then remove CALLBACK_SECRET_PARAM. "
                "See docs/callbacks.md.",
                id="shipping_orders.W004",
            )
        )
    if not given.get("CALLBACK_SECRETS") and "CALLBACK_SECRETS" not in wrong:
        messages.append(
            Warning(
                f"{where} has no CALLBACK_SECRETS: callbacks to this account are refused "
                "while DEBUG is off.",
                hint="Set CALLBACK_SECRETS to a list of long random strings and give the "
                "provider the header or URL token. See docs/callbacks.md.",
                id="shipping_orders.W001",
            )
        )
    return messages


def _unknown_provider(where: str, name: str | None, *, imported: bool = False) -> Error:
    if name is None:
        problem = "is missing"
    elif imported:
        problem = f"{name!r} is not a subclass of django_shipping_orders.providers.Provider"
    else:
        problem = f"{name!r} cannot be imported"
    return Error(
        f"{where}['PROVIDER'] {problem}.",
        hint=f"Use one of {', '.join(sorted(BUILTIN_PROVIDERS))} or a dotted path to a "
        "Provider subclass.",
        id="shipping_orders.E002",
    )


#: Letters that print as nothing (Hangul and Braille fillers, Khmer inherent vowels).
_BLANK_LETTERS = frozenset("\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0")


def _visible(char: str) -> bool:
    """Whether ``char`` prints as something: a letter, digit, mark of punctuation or symbol."""
    category = unicodedata.category(char)
    return category[0] in "LNPS" and char not in _BLANK_LETTERS
