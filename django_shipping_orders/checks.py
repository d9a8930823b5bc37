"""System checks for ``SHIPPING_ORDERS`` (ids ``shipping_orders.E0xx`` / ``W0xx``).

They read settings only: no database, no network, so they are safe in
``manage.py check --deploy`` on a build machine.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from .conf import (
    ACCOUNT_DEFAULTS,
    GLOBAL_DEFAULTS,
    SETTING_NAME,
    RateLimit,
    account_type_errors,
    build_account,
    global_type_errors,
)
from .exceptions import ShippingOrdersConfigurationError

_DOCS = "See docs/settings.md."


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report every problem of the ``SHIPPING_ORDERS`` setting at once."""
    raw = getattr(settings, SETTING_NAME, None)
    if raw is None or (isinstance(raw, dict) and not raw.get("ACCOUNTS")):
        return [
            Error(
                f"{SETTING_NAME} defines no accounts.",
                hint=f'Add {SETTING_NAME} = {{"ACCOUNTS": {{"default": {{"PROVIDER": "shippit", '
                f'"API_KEY": ...}}}}}}. {_DOCS}',
                id="shipping_orders.E001",
            )
        ]
    if not isinstance(raw, dict) or not isinstance(raw.get("ACCOUNTS"), dict):
        return [
            Error(
                f"{SETTING_NAME} must be a dict whose 'ACCOUNTS' is a dict of alias -> settings.",
                hint=_DOCS,
                id="shipping_orders.E007",
            )
        ]
    messages: list[CheckMessage] = [
        Error(message, hint=_DOCS, id="shipping_orders.E007") for message in global_type_errors(raw)
    ]
    unknown = sorted(set(raw) - set(GLOBAL_DEFAULTS))
    if unknown:
        messages.append(
            Error(
                f"{SETTING_NAME} has unknown key(s): {', '.join(unknown)}.",
                hint=f"Known keys: {', '.join(sorted(GLOBAL_DEFAULTS))}. {_DOCS}",
                id="shipping_orders.E006",
            )
        )
    for alias, given in raw["ACCOUNTS"].items():
        messages.extend(_check_account(str(alias), given))
    if "REFRESH" in raw:
        from .policy import PolicySettings

        try:
            PolicySettings.from_settings(
                raw["REFRESH"] if isinstance(raw["REFRESH"], dict) else {"?": 0}
            )
        except ShippingOrdersConfigurationError as err:
            messages.append(Error(str(err), hint="See docs/refresh.md.", id="shipping_orders.E008"))
    messages.extend(_check_rate_limit_cache(raw))
    return messages


#: Cache backends whose data lives in one process: the budget would be that process's only.
_PER_PROCESS_CACHES = ("django.core.cache.backends.locmem.LocMemCache",)
_NO_CACHES = ("django.core.cache.backends.dummy.DummyCache",)
#: Shared by the processes of one machine, but ``add`` (the limiter's lock) is not atomic.
_UNLOCKED_CACHES = ("django.core.cache.backends.filebased.FileBasedCache",)


def _check_rate_limit_cache(raw: dict[str, Any]) -> list[CheckMessage]:
    """The rate budget must live in a cache every process shares (E009, E010, E011, W005)."""
    alias = raw.get("RATE_LIMIT_CACHE", GLOBAL_DEFAULTS["RATE_LIMIT_CACHE"])
    caches = getattr(settings, "CACHES", {}) or {}
    if not isinstance(alias, str):
        return []  # E007 reports the wrong type
    if alias not in caches:
        return [
            Error(
                f"{SETTING_NAME}['RATE_LIMIT_CACHE'] names {alias!r}, which is not in CACHES.",
                hint="Name a cache alias of settings.CACHES (Redis in production). "
                "See docs/scaling.md.",
                id="shipping_orders.E009",
            )
        ]
    backend = str(caches[alias].get("BACKEND", ""))
    if backend in _NO_CACHES:
        return [
            Error(
                f"The rate limit cache {alias!r} is a DummyCache: it keeps no request budget, "
                "so the app would exceed the providers' rate limits.",
                hint="Point RATE_LIMIT_CACHE at Redis (or Memcached, or the database cache). "
                "See docs/scaling.md.",
                id="shipping_orders.E011",
            )
        ]
    if backend in _PER_PROCESS_CACHES and raw.get("SINGLE_PROCESS") is not True:
        # An error whatever DEBUG says: runserver plus a qcluster are already two processes.
        return [
            Error(
                f"The rate limit cache {alias!r} is local memory: each process would keep a "
                "budget of its own, so a web server, a qcluster and a command together "
                "exceed the providers' rate limits.",
                hint="Use a cache every process shares for RATE_LIMIT_CACHE (Redis; or the "
                "database cache after manage.py createcachetable), or, if truly one process "
                f'talks to the providers, set {SETTING_NAME}["SINGLE_PROCESS"] = True. '
                "See docs/scaling.md.",
                id="shipping_orders.E010",
            )
        ]
    if backend in _UNLOCKED_CACHES:
        return [
            Warning(
                f"The rate limit cache {alias!r} is a file cache: its add() is not atomic, so "
                "processes taking slots at the same moment can exceed the rate limit.",
                hint="Use Redis, Memcached or the database cache for RATE_LIMIT_CACHE. "
                "See docs/scaling.md.",
                id="shipping_orders.W005",
            )
        ]
    return []


def _check_account(alias: str, given: Any) -> list[CheckMessage]:
    where = f"{SETTING_NAME}['ACCOUNTS'][{alias!r}]"
    if not isinstance(given, dict):
        return [Error(f"{where} must be a dict.", hint=_DOCS, id="shipping_orders.E007")]
    messages: list[CheckMessage] = []
    unknown = sorted(set(given) - set(ACCOUNT_DEFAULTS))
    if unknown:
        messages.append(
            Error(
                f"{where} has unknown key(s): {', '.join(unknown)}.",
                hint=f"Known keys: {', '.join(sorted(ACCOUNT_DEFAULTS))}. {_DOCS}",
                id="shipping_orders.E006",
            )
        )
        return messages
    type_errors = account_type_errors(alias, given)
    if type_errors:
        # Nothing more can be read reliably from an account with wrong types.
        return [Error(message, hint=_DOCS, id="shipping_orders.E007") for message in type_errors]
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
            from .providers.base import Provider

            if not (isinstance(provider_class, type) and issubclass(provider_class, Provider)):
                messages.append(_unknown_provider(where, account.provider, imported=True))
                provider_class = None
    if not given.get("API_KEY"):
        messages.append(
            Error(
                f"{where} has no API_KEY.",
                hint="Set API_KEY from the environment (never commit it). " + _DOCS,
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
    if not given.get("CALLBACK_SECRETS"):
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
    from .conf import BUILTIN_PROVIDERS

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
