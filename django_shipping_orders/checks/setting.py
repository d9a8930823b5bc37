"""The check of ``SHIPPING_ORDERS`` as a whole: shape, keys, types, refresh and named references.

Each account is checked by :mod:`.accounts`, the rate limit cache by
:mod:`.rate_cache`; this check runs them and reports every problem at once.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.utils.module_loading import import_string

from ..conf import GLOBAL_DEFAULTS, SETTING_NAME, global_type_errors
from ..exceptions import ShippingOrdersConfigurationError
from .accounts import check_account
from .hints import DOCS, unknown_key_hint
from .rate_cache import check_rate_limit_cache


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report every problem of the ``SHIPPING_ORDERS`` setting at once."""
    raw = getattr(settings, SETTING_NAME, None)
    no_accounts = Error(
        f"{SETTING_NAME} defines no accounts.",
        hint=f'Add {SETTING_NAME} = {{"ACCOUNTS": {{"default": {{"PROVIDER": "shippit", '
        f'"API_KEY": ...}}}}}}. {DOCS}',
        id="shipping_orders.E001",
    )
    if raw is None:
        return [no_accounts]
    if not isinstance(raw, dict):
        return [
            Error(
                f"{SETTING_NAME} must be a dict, got {type(raw).__name__}.",
                hint=f'Write it as {SETTING_NAME} = {{"ACCOUNTS": {{"default": {{...}}}}}}. {DOCS}',
                id="shipping_orders.E007",
            )
        ]
    messages: list[CheckMessage] = [
        Error(message, hint=DOCS, id="shipping_orders.E007") for message in global_type_errors(raw)
    ]
    accounts = raw.get("ACCOUNTS") or {}
    if not isinstance(accounts, dict):
        messages.append(
            Error(
                f"{SETTING_NAME}['ACCOUNTS'] must be a dict of alias -> account settings, "
                f"got {type(accounts).__name__}.",
                hint=f'Write it as "ACCOUNTS": {{"default": {{"PROVIDER": "shippit", ...}}}}. {DOCS}',
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
                hint=unknown_key_hint(unknown, GLOBAL_DEFAULTS),
                id="shipping_orders.E006",
            )
        )
    for alias, given in accounts.items():
        messages.extend(check_account(str(alias), given))
    messages.extend(_check_refresh(raw))
    messages.extend(check_rate_limit_cache(raw))
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
    from ..policy import PolicySettings

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
