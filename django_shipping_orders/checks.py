"""System checks for ``SHIPPING_ORDERS`` (ids ``shipping_orders.E0xx`` / ``W0xx``).

They read settings only: no database, no network, so they are safe in
``manage.py check --deploy`` on a build machine.
"""

from __future__ import annotations

import difflib
import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.module_loading import import_string

from .conf import (
    ACCOUNT_DEFAULTS,
    GLOBAL_DEFAULTS,
    SETTING_NAME,
    RateLimit,
    account_type_errors,
    account_wrong_keys,
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
    no_accounts = Error(
        f"{SETTING_NAME} defines no accounts.",
        hint=f'Add {SETTING_NAME} = {{"ACCOUNTS": {{"default": {{"PROVIDER": "shippit", '
        f'"API_KEY": ...}}}}}}. {_DOCS}',
        id="shipping_orders.E001",
    )
    if raw is None:
        return [no_accounts]
    if not isinstance(raw, dict):
        return [
            Error(
                f"{SETTING_NAME} must be a dict, got {type(raw).__name__}.",
                hint=f'Write it as {SETTING_NAME} = {{"ACCOUNTS": {{"default": {{...}}}}}}. {_DOCS}',
                id="shipping_orders.E007",
            )
        ]
    messages: list[CheckMessage] = [
        Error(message, hint=_DOCS, id="shipping_orders.E007") for message in global_type_errors(raw)
    ]
    accounts = raw.get("ACCOUNTS") or {}
    if not isinstance(accounts, dict):
        messages.append(
            Error(
                f"{SETTING_NAME}['ACCOUNTS'] must be a dict of alias -> account settings, "
                f"got {type(accounts).__name__}.",
                hint=f'Write it as "ACCOUNTS": {{"default": {{"PROVIDER": "shippit", ...}}}}. {_DOCS}',
                id="shipping_orders.E007",
            )
        )
        accounts = {}
    elif not accounts:
        messages.append(no_accounts)
    unknown = sorted(str(key) for key in set(raw) - set(GLOBAL_DEFAULTS))
    if unknown:
        messages.append(
            Error(
                f"{SETTING_NAME} has unknown key(s): {', '.join(unknown)}.",
                hint=_unknown_key_hint(unknown, GLOBAL_DEFAULTS),
                id="shipping_orders.E006",
            )
        )
    for alias, given in accounts.items():
        messages.extend(_check_account(str(alias), given))
    messages.extend(_check_refresh(raw))
    messages.extend(_check_rate_limit_cache(raw))
    messages.extend(_check_references(raw))
    return messages


def _check_refresh(raw: dict[str, Any]) -> list[CheckMessage]:
    """The refresh policy overrides (E008)."""
    if "REFRESH" not in raw:
        return []
    refresh = raw["REFRESH"]
    if not isinstance(refresh, dict):
        return [
            Error(
                f"{SETTING_NAME}['REFRESH'] must be a dict of name -> seconds, "
                f"got {type(refresh).__name__}.",
                hint='For example "REFRESH": {"GRACE_PERIOD": 300}. See docs/refresh.md.',
                id="shipping_orders.E008",
            )
        ]
    from .policy import PolicySettings

    try:
        PolicySettings.from_settings(refresh)
    except ShippingOrdersConfigurationError as err:
        return [Error(str(err), hint="See docs/refresh.md.", id="shipping_orders.E008")]
    return []


def _check_references(raw: dict[str, Any]) -> list[CheckMessage]:
    """Names that must exist elsewhere: the label storage alias, the API permission classes."""
    messages: list[CheckMessage] = []
    storage = raw.get("LABEL_STORAGE")
    storages = getattr(settings, "STORAGES", {}) or {}
    if isinstance(storage, str) and storage and storage not in storages:
        messages.append(
            Error(
                f"{SETTING_NAME}['LABEL_STORAGE'] names {storage!r}, which is not in STORAGES.",
                hint="Name a key of settings.STORAGES, or leave LABEL_STORAGE out to keep labels "
                "in the private folder LABEL_ROOT. See docs/admin.md.",
                id="shipping_orders.E007",
            )
        )
    classes = raw.get("API_PERMISSION_CLASSES")
    if isinstance(classes, list | tuple):
        for path in classes:
            if not isinstance(path, str):
                continue  # reported as a wrong type
            try:
                import_string(path)
            except ImportError as err:
                messages.append(
                    Error(
                        f"{SETTING_NAME}['API_PERMISSION_CLASSES']: cannot import {path!r} ({err}).",
                        hint="Give dotted paths of DRF permission classes, such as "
                        "'rest_framework.permissions.IsAdminUser'.",
                        id="shipping_orders.E007",
                    )
                )
    return messages


#: Cache backends whose data lives in one process: the budget would be that process's only.
_PER_PROCESS_CACHES = ("django.core.cache.backends.locmem.LocMemCache",)
_NO_CACHES = ("django.core.cache.backends.dummy.DummyCache",)
#: Shared by the processes of one machine, but ``add`` (the limiter's lock) is not atomic.
_UNLOCKED_CACHES = ("django.core.cache.backends.filebased.FileBasedCache",)
#: Backends that cull entries when ``MAX_ENTRIES`` is reached, whichever key they hold.
_CULLING_CACHES = (
    "django.core.cache.backends.db.BaseDatabaseCache",
    "django.core.cache.backends.filebased.FileBasedCache",
    "django.core.cache.backends.locmem.LocMemCache",
)
#: MAX_ENTRIES a culling cache shared with the rest of the site needs before the budget is safe.
SAFE_SHARED_ENTRIES = 100_000


def is_backend(path: str, bases: tuple[str, ...]) -> bool:
    """True when the cache backend ``path`` is one of ``bases`` or a subclass of one."""
    if path in bases:
        return True
    try:
        cls = import_string(path)
    except ImportError:
        return False
    if not isinstance(cls, type):
        return False
    for base in bases:
        try:
            if issubclass(cls, import_string(base)):
                return True
        except ImportError:
            continue
    return False


def _check_culling(alias: str, config: dict[str, Any], accounts: int) -> list[CheckMessage]:
    """E012: a culling cache can evict the budget (the log is lost, the limit is exceeded)."""
    if not is_backend(str(config.get("BACKEND", "")), _CULLING_CACHES):
        return []
    options = config.get("OPTIONS") or {}
    try:
        max_entries = int(options.get("MAX_ENTRIES", 300))
        cull_frequency = int(options.get("CULL_FREQUENCY", 3))
    except (TypeError, ValueError):
        return []  # Django reports its own options
    shared = alias in ("default", getattr(settings, "SESSION_CACHE_ALIAS", "default"))
    # Each account's budget is a few keys (log, state, lock); a dedicated alias holds only those.
    need = SAFE_SHARED_ENTRIES if shared else 10 * max(1, accounts) + 20
    if max_entries >= need and not (shared and cull_frequency == 0):
        return []
    return [
        Error(
            f"The rate limit cache {alias!r} culls entries (MAX_ENTRIES={max_entries}, "
            f"CULL_FREQUENCY={cull_frequency}){' and is shared with the site' if shared else ''}: "
            "when it fills, the rate budget can be evicted and the providers' rate limits "
            "exceeded.",
            hint='Give the rate limit a dedicated cache alias (CACHES["shipping"], '
            f'RATE_LIMIT_CACHE = "shipping") with MAX_ENTRIES of at least {need}, '
            "or use Redis. See docs/scaling.md.",
            id="shipping_orders.E012",
        )
    ]


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
    accounts = raw.get("ACCOUNTS")
    culling = _check_culling(
        alias, caches[alias], len(accounts) if isinstance(accounts, dict) else 1
    )
    if is_backend(backend, _NO_CACHES):
        return [
            Error(
                f"The rate limit cache {alias!r} is a DummyCache: it keeps no request budget, "
                "so the app would exceed the providers' rate limits.",
                hint="Point RATE_LIMIT_CACHE at Redis (or Memcached, or the database cache). "
                "See docs/scaling.md.",
                id="shipping_orders.E011",
            )
        ]
    if is_backend(backend, _PER_PROCESS_CACHES) and raw.get("SINGLE_PROCESS") is not True:
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
    if is_backend(backend, _UNLOCKED_CACHES):
        return [
            *culling,
            Warning(
                f"The rate limit cache {alias!r} is a file cache: its add() is not atomic, so "
                "processes taking slots at the same moment can exceed the rate limit.",
                hint="Use Redis, Memcached or the database cache for RATE_LIMIT_CACHE. "
                "See docs/scaling.md.",
                id="shipping_orders.W005",
            ),
        ]
    return culling


def _check_account(alias: str, given: Any) -> list[CheckMessage]:
    where = f"{SETTING_NAME}['ACCOUNTS'][{alias!r}]"
    if not isinstance(given, dict):
        return [
            Error(
                f"{where} must be a dict, got {type(given).__name__}.",
                hint='Write the account as a dict: {"PROVIDER": "shippit", "API_KEY": ...}. '
                + _DOCS,
                id="shipping_orders.E007",
            )
        ]
    messages: list[CheckMessage] = []
    unknown = sorted(str(key) for key in set(given) - set(ACCOUNT_DEFAULTS))
    if unknown:
        messages.append(
            Error(
                f"{where} has unknown key(s): {', '.join(unknown)}.",
                hint=_unknown_key_hint(unknown, ACCOUNT_DEFAULTS),
                id="shipping_orders.E006",
            )
        )
    type_errors = account_type_errors(alias, given)
    messages.extend(
        Error(message, hint=_DOCS, id="shipping_orders.E007") for message in type_errors
    )
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
            from .providers.base import Provider

            if not (isinstance(provider_class, type) and issubclass(provider_class, Provider)):
                messages.append(_unknown_provider(where, account.provider, imported=True))
                provider_class = None
    if not given.get("API_KEY") and "API_KEY" not in wrong:
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


def _unknown_key_hint(unknown: list[str], known: dict[str, Any]) -> str:
    """``Did you mean …?`` for each near miss, then the known keys."""
    guesses = [
        f"{key} -> {match[0]}"
        for key in unknown
        if (match := difflib.get_close_matches(key.upper(), list(known), n=1, cutoff=0.7))
    ]
    meant = f"Did you mean: {', '.join(guesses)}? " if guesses else ""
    return f"{meant}Known keys: {', '.join(sorted(known))}. {_DOCS}"


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
