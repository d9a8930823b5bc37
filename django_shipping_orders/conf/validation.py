"""The type each ``SHIPPING_ORDERS`` value must have, and the messages naming one that has not."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import TypeGuard

from .defaults import DOCUMENT_LIMIT_KEYS, SETTING_NAME


def _is_number(value: object, minimum: float, *, above: bool = False) -> TypeGuard[float]:
    # NaN and infinities are refused: they pass no comparison usefully and fail later
    # inside timedelta, sleep or a division.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return False
    return value > minimum if above else value >= minimum


def _is_text_list(value: object) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list | tuple) and all(isinstance(item, str) for item in value)
    )


def _is_text_map(value: object) -> bool:
    return value is None or (
        isinstance(value, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    )


def _is_document_limits(value: object) -> bool:
    return isinstance(value, dict) and all(
        key in DOCUMENT_LIMIT_KEYS and _is_number(limit, 1) and isinstance(limit, int)
        for key, limit in value.items()
    )


#: A test of one value as the setting gives it: any object, true when it has the right type.
Check = Callable[[object], bool]

# (test, what the value must be) per key. RATE_LIMIT, PROVIDER and REFRESH have
# checks of their own (E004, E002, E008), so they are not repeated here.
_ACCOUNT_TYPES: dict[str, tuple[Check, str]] = {
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
_GLOBAL_TYPES: dict[str, tuple[Check, str]] = {
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


def _type_errors(
    given: Mapping[str, object], types: dict[str, tuple[Check, str]], where: str
) -> list[str]:
    return [
        f"{where}[{key!r}] must be {expected}, got {given[key]!r}."
        if key not in ("API_KEY",)  # never echo a credential
        else f"{where}[{key!r}] must be {expected}, got {type(given[key]).__name__}."
        for key, (valid, expected) in types.items()
        if key in given and not valid(given[key])
    ]


def account_type_errors(alias: str, given: Mapping[str, object]) -> list[str]:
    """One message per account value of the wrong type (the check reports them as E007)."""
    return _type_errors(given, _ACCOUNT_TYPES, f"{SETTING_NAME}['ACCOUNTS'][{alias!r}]")


def account_wrong_keys(given: Mapping[str, object]) -> set[str]:
    """The keys of one account's dict whose values are of the wrong type."""
    return {
        key for key, (valid, _) in _ACCOUNT_TYPES.items() if key in given and not valid(given[key])
    }


def global_type_errors(raw: Mapping[str, object]) -> list[str]:
    """One message per top-level value of the wrong type (the check reports them as E007)."""
    return _type_errors(raw, _GLOBAL_TYPES, SETTING_NAME)


def unknown_keys(given: Mapping[str, object], known: Mapping[str, object]) -> list[str]:
    """The keys of ``given`` that ``known`` does not list, sorted, as text."""
    return sorted(str(key) for key in given if key not in known)
