"""The ``SHIPPING_ORDERS`` setting, read lazily on every access.

Nothing here reads ``settings`` at import time. Validating and building the
typed values is done once, on first use, and done again after Django's
``setting_changed`` signal (``override_settings`` sends it); a dict mutated
in place without that signal keeps the values already built from it. Every key has a
default below; a key that is not listed here is an error that names it (a
typo such as ``API_KEYS`` must not silently fall back to a default).

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

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .bounded import Limits
from .exceptions import ShippingOrdersConfigurationError, UnknownAccount

SETTING_NAME = "SHIPPING_ORDERS"

#: Provider names understood without a dotted path.
BUILTIN_PROVIDERS: dict[str, str] = {
    "shippit": "django_shipping_orders.providers.shippit.ShippitProvider",
    "senderlv": "django_shipping_orders.providers.senderlv.SenderLvProvider",
    "sandbox": "django_shipping_orders.providers.sandbox.SandboxProvider",
    "sandbox-senderlv": "django_shipping_orders.providers.sandbox.SandboxSenderLvProvider",
}

#: Per-account keys and their defaults. ``None`` for BASE_URL means "the provider's own".
ACCOUNT_DEFAULTS: dict[str, Any] = {
    "PROVIDER": None,
    "API_KEY": "",
    "BASE_URL": None,
    # Authentication of incoming callbacks: a list so that secrets can rotate.
    "CALLBACK_SECRETS": [],
    "CALLBACK_SECRET_HEADER": "X-Shipping-Callback-Secret",
    "CALLBACK_ALLOWED_IPS": [],
    # Treat a callback as a hint and fetch the order from the provider instead.
    "CALLBACK_VERIFY": False,
    # Requests per window, e.g. "60/m", "1000/60s", "5/s", "3600/h".
    "RATE_LIMIT": "60/m",
    # Seconds: connect timeout and read timeout of every provider request.
    "CONNECT_TIMEOUT": 5.0,
    "TIMEOUT": 20.0,
    # Retries of idempotent requests on 429, 5xx and connection errors.
    "MAX_RETRIES": 3,
    "BACKOFF_FACTOR": 0.5,
    "BACKOFF_MAX": 30.0,
    # Provider-specific knobs (Sender.lv: auth header, language; Shippit: platform header).
    "AUTH_HEADER": "Authorization",
    "AUTH_SCHEME": "Bearer",
    "LANGUAGE": "",
    "PLATFORM": "django-shipping-orders",
    # Renamed fields ({"their_name": "our_name"}) and extra states ({"their_state": "known_state"}).
    "FIELD_MAP": {},
    "STATE_MAP": {},
    # Hosts (https only) from which label PDFs may be downloaded; [] means the provider's own.
    "LABEL_HOSTS": [],
    # Currency of the provider's charges ("price"); None means the provider's own (AUD, EUR).
    "CURRENCY": None,
    # Name of a query-string parameter that may carry the callback secret, for shops
    # moving from an official plugin (their webhook URLs end in "?api_key=..."). Off
    # by default: query strings end up in web server logs (check W004).
    "CALLBACK_SECRET_PARAM": None,
}

#: Top-level keys and their defaults.
GLOBAL_DEFAULTS: dict[str, Any] = {
    "ACCOUNTS": {},
    # Storage alias (a key of settings.STORAGES) for label PDFs; None = a private
    # FileSystemStorage under LABEL_ROOT that is never served from MEDIA_URL.
    "LABEL_STORAGE": None,
    "LABEL_ROOT": None,
    "LABEL_MAX_BYTES": 10 * 1024 * 1024,
    # Largest callback body accepted, in bytes.
    "CALLBACK_MAX_BYTES": 1024 * 1024,
    # Limits of a JSON body (callbacks, provider answers), checked before any value is used:
    # see docs/settings.md. Keys: MAX_DEPTH, MAX_ITEMS, MAX_NUMBER_DIGITS, MAX_NUMBER_EXPONENT.
    "DOCUMENT_LIMITS": {},
    # Seconds within which two documents about an order count as simultaneous (clock skew
    # between the provider and us): there the state's rank decides. See docs/callbacks.md.
    "CLOCK_WINDOW": 5.0,
    # "inline": apply a callback before answering it. "deferred": store it, answer
    # 202 at once, and let a django-q2 task apply it (for high callback volumes).
    "CALLBACK_PROCESSING": "inline",
    # Refresh policy: see docs/refresh.md. Every number is in seconds.
    "REFRESH": {},
    # Threads per process used by the refresh engine.
    "REFRESH_WORKERS": 4,
    # Cache alias (a key of settings.CACHES) holding the shared per-account rate limit.
    "RATE_LIMIT_CACHE": "default",
    # Longest pause (seconds) a provider's Retry-After may impose on an account's
    # shared budget; a longer, infinite or unreadable value is cut to this.
    "RETRY_AFTER_MAX": 300,
    # True only when one process talks to the providers (one runserver, one command,
    # no qcluster): then a local-memory RATE_LIMIT_CACHE is allowed.
    "SINGLE_PROCESS": False,
    # DRF permission classes (dotted paths) of the read-only orders API.
    "API_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    # Courier display names: {"name as any provider spells it": "name people read"}.
    "COURIER_NAMES": {},
}

_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd]|sec|second|min|minute|hour|day)?\s*$")
_UNIT_SECONDS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60}
_UNIT_SECONDS |= {"h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def _is_number(value: Any, minimum: float, *, above: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return value > minimum if above else value >= minimum


def _is_text_list(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list | tuple) and all(isinstance(item, str) for item in value)
    )


def _is_text_map(value: Any) -> bool:
    return value is None or (
        isinstance(value, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    )


#: ``DOCUMENT_LIMITS`` keys -> ``bounded.Limits`` fields.
DOCUMENT_LIMIT_KEYS: dict[str, str] = {
    "MAX_DEPTH": "max_depth",
    "MAX_ITEMS": "max_items",
    "MAX_NUMBER_DIGITS": "max_number_digits",
    "MAX_NUMBER_EXPONENT": "max_number_exponent",
}


def _is_document_limits(value: Any) -> bool:
    return isinstance(value, dict) and all(
        key in DOCUMENT_LIMIT_KEYS and _is_number(limit, 1) and isinstance(limit, int)
        for key, limit in value.items()
    )


# (test, what the value must be) per key. RATE_LIMIT, PROVIDER and REFRESH have
# checks of their own (E004, E002, E008), so they are not repeated here.
_ACCOUNT_TYPES: dict[str, tuple[Any, str]] = {
    "API_KEY": (lambda v: v is None or isinstance(v, str), "a string"),
    "BASE_URL": (lambda v: v is None or isinstance(v, str), "a URL string or None"),
    "CALLBACK_SECRETS": (_is_text_list, "a list of strings"),
    "CALLBACK_SECRET_HEADER": (lambda v: isinstance(v, str) and bool(v), "a header name"),
    "CALLBACK_ALLOWED_IPS": (_is_text_list, "a list of strings"),
    "CALLBACK_VERIFY": (lambda v: isinstance(v, bool), "True or False"),
    "CONNECT_TIMEOUT": (lambda v: _is_number(v, 0, above=True), "a number of seconds > 0"),
    "TIMEOUT": (lambda v: _is_number(v, 0, above=True), "a number of seconds > 0"),
    "MAX_RETRIES": (lambda v: _is_number(v, 0) and isinstance(v, int), "a whole number >= 0"),
    "BACKOFF_FACTOR": (lambda v: _is_number(v, 0), "a number of seconds >= 0"),
    "BACKOFF_MAX": (lambda v: _is_number(v, 0), "a number of seconds >= 0"),
    "AUTH_HEADER": (lambda v: isinstance(v, str) and bool(v), "a header name"),
    "AUTH_SCHEME": (lambda v: v is None or isinstance(v, str), "a string"),
    "LANGUAGE": (lambda v: v is None or isinstance(v, str), "a string"),
    "PLATFORM": (lambda v: v is None or isinstance(v, str), "a string"),
    "FIELD_MAP": (_is_text_map, "a dict of their name -> our name"),
    "STATE_MAP": (_is_text_map, "a dict of their state -> known state"),
    "LABEL_HOSTS": (_is_text_list, "a list of host names"),
    "CURRENCY": (
        lambda v: v is None or (isinstance(v, str) and re.fullmatch(r"[A-Z]{3}", v) is not None),
        "a three-letter ISO 4217 code such as 'AUD', or None",
    ),
    "CALLBACK_SECRET_PARAM": (
        lambda v: (
            v is None or (isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9_.-]+", v) is not None)
        ),
        "a query parameter name such as 'api_key', or None",
    ),
}
_GLOBAL_TYPES: dict[str, tuple[Any, str]] = {
    "LABEL_STORAGE": (lambda v: v is None or isinstance(v, str), "a STORAGES alias or None"),
    "LABEL_ROOT": (lambda v: v is None or isinstance(v, str | PurePath), "a directory or None"),
    "LABEL_MAX_BYTES": (
        lambda v: _is_number(v, 1) and isinstance(v, int),
        "a whole number of bytes",
    ),
    "CALLBACK_MAX_BYTES": (
        lambda v: _is_number(v, 1) and isinstance(v, int),
        "a whole number of bytes",
    ),
    "REFRESH_WORKERS": (lambda v: _is_number(v, 1) and isinstance(v, int), "a whole number >= 1"),
    "RATE_LIMIT_CACHE": (lambda v: isinstance(v, str) and bool(v), "a CACHES alias"),
    "RETRY_AFTER_MAX": (
        lambda v: _is_number(v, 0) and math.isfinite(v) and v <= 86400,
        "a number of seconds from 0 to 86400",
    ),
    "SINGLE_PROCESS": (lambda v: isinstance(v, bool), "True or False"),
    "CALLBACK_PROCESSING": (lambda v: v in ("inline", "deferred"), "'inline' or 'deferred'"),
    "DOCUMENT_LIMITS": (
        _is_document_limits,
        f"a dict of {', '.join(DOCUMENT_LIMIT_KEYS)} -> whole numbers >= 1",
    ),
    "CLOCK_WINDOW": (lambda v: _is_number(v, 0), "a number of seconds >= 0"),
    "API_PERMISSION_CLASSES": (
        lambda v: isinstance(v, list | tuple) and all(isinstance(i, str) for i in v),
        "a list of dotted paths",
    ),
    "COURIER_NAMES": (
        lambda v: (
            isinstance(v, dict)
            and all(isinstance(k, str) and k.strip() and isinstance(n, str) for k, n in v.items())
        ),
        "a dict of courier name -> display name",
    ),
}


def _type_errors(given: dict[str, Any], types: dict[str, tuple[Any, str]], where: str) -> list[str]:
    return [
        f"{where}[{key!r}] must be {expected}, got {given[key]!r}."
        if key not in ("API_KEY",)  # never echo a credential
        else f"{where}[{key!r}] must be {expected}, got {type(given[key]).__name__}."
        for key, (valid, expected) in types.items()
        if key in given and not valid(given[key])
    ]


def account_type_errors(alias: str, given: dict[str, Any]) -> list[str]:
    """One message per account value of the wrong type (the check reports them as E007)."""
    return _type_errors(given, _ACCOUNT_TYPES, f"{SETTING_NAME}['ACCOUNTS'][{alias!r}]")


def account_wrong_keys(given: dict[str, Any]) -> set[str]:
    """The keys of one account's dict whose values are of the wrong type."""
    return {
        key for key, (valid, _) in _ACCOUNT_TYPES.items() if key in given and not valid(given[key])
    }


def global_type_errors(raw: dict[str, Any]) -> list[str]:
    """One message per top-level value of the wrong type (the check reports them as E007)."""
    return _type_errors(raw, _GLOBAL_TYPES, SETTING_NAME)


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` provider requests in any ``seconds``-long window."""

    requests: int
    seconds: float

    @classmethod
    def parse(cls, value: Any) -> RateLimit:
        """Parse ``"60/m"``, ``"1000/60s"``, ``"5/s"``; raise ``ValueError`` on anything else."""
        if isinstance(value, RateLimit):
            return value
        if not isinstance(value, str):
            raise ValueError(f"expected a string such as '60/m', got {value!r}")
        match = _RATE_RE.match(value)
        if not match:
            raise ValueError(f"expected a string such as '60/m' or '1000/60s', got {value!r}")
        count, multiplier, unit = match.groups()
        if not multiplier and not unit:  # "60/" names no window
            raise ValueError(f"expected a string such as '60/m' or '1000/60s', got {value!r}")
        seconds = _UNIT_SECONDS[unit or "s"] * (int(multiplier) if multiplier else 1)
        if int(count) < 1 or seconds < 1:
            raise ValueError(f"the rate must allow at least one request per window, got {value!r}")
        return cls(requests=int(count), seconds=float(seconds))

    def __str__(self) -> str:
        return f"{self.requests}/{int(self.seconds)}s"


@dataclass(frozen=True)
class AccountSettings:
    """One provider account, as configured under ``SHIPPING_ORDERS["ACCOUNTS"][alias]``."""

    alias: str
    provider: str
    api_key: str = field(repr=False)
    base_url: str | None
    callback_secrets: tuple[str, ...] = field(repr=False)
    callback_secret_header: str
    callback_allowed_ips: tuple[str, ...]
    callback_verify: bool
    rate_limit_text: str
    connect_timeout: float
    timeout: float
    max_retries: int
    backoff_factor: float
    backoff_max: float
    auth_header: str
    auth_scheme: str
    language: str
    platform: str
    field_map: dict[str, str]
    state_map: dict[str, str]
    label_hosts: tuple[str, ...]
    currency: str | None = None
    callback_secret_param: str | None = None

    @property
    def rate_limit(self) -> RateLimit:
        """The parsed ``RATE_LIMIT``; raises the configuration error the check reports."""
        try:
            return RateLimit.parse(self.rate_limit_text)
        except ValueError as err:
            raise ShippingOrdersConfigurationError(
                f"{SETTING_NAME}['ACCOUNTS'][{self.alias!r}]['RATE_LIMIT']: {err}"
            ) from None

    @property
    def provider_class(self) -> type:
        """The adapter class named by ``PROVIDER`` (a built-in name or a dotted path)."""
        path = BUILTIN_PROVIDERS.get(self.provider, self.provider)
        try:
            return import_string(path)
        except ImportError as err:
            raise ShippingOrdersConfigurationError(
                f"{SETTING_NAME}['ACCOUNTS'][{self.alias!r}]['PROVIDER']: cannot import "
                f"{self.provider!r} ({err}). Use one of {sorted(BUILTIN_PROVIDERS)} "
                "or a dotted path."
            ) from None


def _unknown_keys(given: dict[str, Any], known: dict[str, Any]) -> list[str]:
    return sorted(str(key) for key in given if key not in known)


class _Snapshot:
    """Values validated from one ``SHIPPING_ORDERS`` object (kept alive, so never confused)."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.values: dict[str, Any] = {}
        self.accounts: dict[str, AccountSettings] = {}


class ShippingSettings:
    """Typed, lazy view of ``settings.SHIPPING_ORDERS``."""

    @property
    def raw(self) -> dict[str, Any]:
        """The setting as given (an empty dict when absent)."""
        value = getattr(settings, SETTING_NAME, {})
        if not isinstance(value, dict):
            raise ShippingOrdersConfigurationError(
                f"{SETTING_NAME} must be a dict, got {type(value).__name__}."
            )
        return value

    def __init__(self) -> None:
        # What was validated and built from the setting. It is built on first use
        # and dropped by Django's ``setting_changed`` signal (override_settings,
        # the pytest-django ``settings`` fixture), never rebuilt for each read on
        # a hot path such as the callback view.
        self._snapshot: _Snapshot | None = None

    def reload(self) -> None:
        """Forget what was built from the setting; the next access reads it again."""
        self._snapshot = None

    def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        if snapshot is None:
            raw = self.raw
            unknown = _unknown_keys(raw, GLOBAL_DEFAULTS)
            if unknown:
                raise ShippingOrdersConfigurationError(
                    f"{SETTING_NAME} has unknown key(s) {unknown}; "
                    f"known keys are {sorted(GLOBAL_DEFAULTS)}."
                )
            snapshot = self._snapshot = _Snapshot(raw)
        return snapshot

    def _get(self, key: str) -> Any:
        return self._value(self._current(), key)

    def _value(self, snapshot: _Snapshot, key: str) -> Any:
        if key not in snapshot.values:
            value = snapshot.raw.get(key, GLOBAL_DEFAULTS[key])
            if key in _GLOBAL_TYPES and key in snapshot.raw:
                errors = _type_errors({key: value}, _GLOBAL_TYPES, SETTING_NAME)
                if errors:
                    raise ShippingOrdersConfigurationError(errors[0])
            snapshot.values[key] = value
        return snapshot.values[key]

    @property
    def account_aliases(self) -> list[str]:
        """Aliases of every configured account, in settings order."""
        accounts = self._get("ACCOUNTS")
        if not isinstance(accounts, dict):
            raise ShippingOrdersConfigurationError(
                f"{SETTING_NAME}['ACCOUNTS'] must be a dict of alias -> account settings."
            )
        return list(accounts)

    def account(self, alias: str) -> AccountSettings:
        """The settings of account ``alias``; raises ``UnknownAccount`` naming the known ones."""
        # One snapshot throughout: a setting swapped meanwhile (another thread's
        # override) never gets an account built from the old one.
        snapshot = self._current()
        built = snapshot.accounts.get(alias)
        if built is None:
            accounts = self._value(snapshot, "ACCOUNTS")
            if alias not in accounts:
                raise UnknownAccount(
                    f"No shipping account {alias!r}; "
                    f"configured accounts: {sorted(accounts) or 'none'}."
                )
            built = snapshot.accounts[alias] = build_account(alias, accounts[alias])
        return built

    def accounts(self) -> list[AccountSettings]:
        """Every configured account."""
        return [self.account(alias) for alias in self.account_aliases]

    @property
    def label_storage(self) -> str | None:
        return self._get("LABEL_STORAGE")

    @property
    def label_root(self) -> str | None:
        return self._get("LABEL_ROOT")

    @property
    def label_max_bytes(self) -> int:
        return int(self._get("LABEL_MAX_BYTES"))

    @property
    def callback_max_bytes(self) -> int:
        return int(self._get("CALLBACK_MAX_BYTES"))

    @property
    def document_limits(self) -> Limits:
        """The ``DOCUMENT_LIMITS`` every JSON body is read within (``bounded.Limits``)."""
        snapshot = self._current()
        limits = snapshot.values.get("_limits")
        if limits is None:
            given = self._value(snapshot, "DOCUMENT_LIMITS")
            limits = snapshot.values["_limits"] = Limits(
                **{DOCUMENT_LIMIT_KEYS[key]: value for key, value in given.items()}
            )
        return limits

    @property
    def clock_window(self) -> timedelta:
        """``CLOCK_WINDOW``: how far apart two as-of instants may be and still count as a tie."""
        return timedelta(seconds=float(self._get("CLOCK_WINDOW")))

    @property
    def refresh(self) -> dict[str, Any]:
        """Overrides of the refresh policy numbers (see ``policy.PolicySettings``)."""
        value = self._get("REFRESH")
        if not isinstance(value, dict):
            raise ShippingOrdersConfigurationError(f"{SETTING_NAME}['REFRESH'] must be a dict.")
        return value

    @property
    def refresh_workers(self) -> int:
        return max(1, int(self._get("REFRESH_WORKERS")))

    @property
    def callback_processing(self) -> str:
        """``"inline"`` or ``"deferred"`` (see docs/callbacks.md)."""
        return str(self._get("CALLBACK_PROCESSING"))

    @property
    def rate_limit_cache(self) -> str:
        """Alias of the cache shared by every process for the rate limit (Redis in production)."""
        return str(self._get("RATE_LIMIT_CACHE"))

    @property
    def retry_after_max(self) -> float:
        """Cap (seconds) on any provider ``Retry-After`` the app honours or stores."""
        return float(self._get("RETRY_AFTER_MAX"))

    @property
    def courier_names(self) -> dict[str, str]:
        """``COURIER_NAMES`` as given (``couriers.display_name`` matches it by courier key)."""
        return dict(self._get("COURIER_NAMES"))

    @property
    def single_process(self) -> bool:
        """True when the settings say one process alone talks to the providers."""
        return bool(self._get("SINGLE_PROCESS"))

    @property
    def api_permission_classes(self) -> list[type]:
        return [import_string(path) for path in self._get("API_PERMISSION_CLASSES")]


def build_account(alias: str, given: Any) -> AccountSettings:
    """``AccountSettings`` from one account's dict; raises an error naming a bad key.

    Separate from ``ShippingSettings.account`` so that the system checks can
    read every account even when another part of the setting is broken.
    """
    where = f"{SETTING_NAME}['ACCOUNTS'][{alias!r}]"
    if not isinstance(given, dict):
        raise ShippingOrdersConfigurationError(f"{where} must be a dict.")
    unknown = _unknown_keys(given, ACCOUNT_DEFAULTS)
    if unknown:
        raise ShippingOrdersConfigurationError(
            f"{where} has unknown key(s) {unknown}; known keys are {sorted(ACCOUNT_DEFAULTS)}."
        )
    errors = account_type_errors(alias, given)
    if errors:
        raise ShippingOrdersConfigurationError(errors[0])
    values = {**ACCOUNT_DEFAULTS, **given}
    if not values["PROVIDER"] or not isinstance(values["PROVIDER"], str):
        raise ShippingOrdersConfigurationError(
            f"{where}['PROVIDER'] is required (a name or dotted path)."
        )
    return AccountSettings(
        alias=alias,
        provider=str(values["PROVIDER"]),
        api_key=str(values["API_KEY"] or ""),
        base_url=(str(values["BASE_URL"]).rstrip("/") if values["BASE_URL"] else None),
        callback_secrets=_as_tuple(values["CALLBACK_SECRETS"]),
        callback_secret_header=str(values["CALLBACK_SECRET_HEADER"]),
        callback_allowed_ips=_as_tuple(values["CALLBACK_ALLOWED_IPS"]),
        callback_verify=bool(values["CALLBACK_VERIFY"]),
        rate_limit_text=values["RATE_LIMIT"],
        connect_timeout=float(values["CONNECT_TIMEOUT"]),
        timeout=float(values["TIMEOUT"]),
        max_retries=int(values["MAX_RETRIES"]),
        backoff_factor=float(values["BACKOFF_FACTOR"]),
        backoff_max=float(values["BACKOFF_MAX"]),
        auth_header=str(values["AUTH_HEADER"]),
        auth_scheme=str(values["AUTH_SCHEME"] or ""),
        language=str(values["LANGUAGE"] or ""),
        platform=str(values["PLATFORM"] or ""),
        field_map=dict(values["FIELD_MAP"] or {}),
        # Incoming states are compared lower-cased (states.canonical_state).
        state_map={
            key.strip().lower(): value for key, value in (values["STATE_MAP"] or {}).items()
        },
        label_hosts=_as_tuple(values["LABEL_HOSTS"]),
        currency=values["CURRENCY"] or None,
        callback_secret_param=values["CALLBACK_SECRET_PARAM"] or None,
    )


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(item) for item in value)


#: The single instance the app reads settings through.
shipping_settings = ShippingSettings()


@receiver(setting_changed)
def _setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        shipping_settings.reload()
