"""One provider account's settings: typed, built from its dict, and its rate limit parsed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.utils.module_loading import import_string

from ..exceptions import ShippingOrdersConfigurationError
from .defaults import ACCOUNT_DEFAULTS, BUILTIN_PROVIDERS, SETTING_NAME
from .validation import account_type_errors, unknown_keys

_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd]|sec|second|min|minute|hour|day)?\s*$")
_UNIT_SECONDS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60}
_UNIT_SECONDS |= {"h": 3600, "hour": 3600, "d": 86400, "day": 86400}


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
    def provider_class(self) -> object:
        """What ``PROVIDER`` names (a built-in name or a dotted path): a ``Provider`` subclass,
        unless the setting is wrong (``providers.get_provider`` and check E002 tell)."""
        path = BUILTIN_PROVIDERS.get(self.provider, self.provider)
        try:
            return import_string(path)
        except ImportError as err:
            raise ShippingOrdersConfigurationError(
                f"{SETTING_NAME}['ACCOUNTS'][{self.alias!r}]['PROVIDER']: cannot import "
                f"{self.provider!r} ({err}). Use one of {sorted(BUILTIN_PROVIDERS)} "
                "or a dotted path."
            ) from None


def build_account(alias: str, given: Any) -> AccountSettings:
    """``AccountSettings`` from one account's dict; raises an error naming a bad key.

    Separate from ``ShippingSettings.account`` so that the system checks can
    read every account even when another part of the setting is broken.
    """
    where = f"{SETTING_NAME}['ACCOUNTS'][{alias!r}]"
    if not isinstance(given, dict):
        raise ShippingOrdersConfigurationError(f"{where} must be a dict.")
    unknown = unknown_keys(given, ACCOUNT_DEFAULTS)
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
        # Incoming states are compared lower-cased (states.canonical_state), and the known
        # state is stored as the app spells it: claims and filters compare it in SQL.
        state_map={
            key.strip().lower(): value.strip().lower() if isinstance(value, str) else value
            for key, value in (values["STATE_MAP"] or {}).items()
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
