"""The typed, lazy view of ``settings.SHIPPING_ORDERS`` and the one instance the app reads.

What is validated and built from the setting is kept until Django's
``setting_changed`` signal drops it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from ..bounded import Limits
from ..exceptions import ShippingOrdersConfigurationError, UnknownAccount
from .accounts import AccountSettings, build_account
from .defaults import DOCUMENT_LIMIT_KEYS, GLOBAL_DEFAULTS, SETTING_NAME
from .validation import global_type_errors, unknown_keys

if TYPE_CHECKING:
    from rest_framework.permissions import BasePermission


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
        #: Counts :meth:`reload` calls: what others built from the setting (the secrets
        #: ``redaction`` hides) is built again when it changes.
        self.generation = 0

    def reload(self) -> None:
        """Forget what was built from the setting; the next access reads it again."""
        self._snapshot = None
        self.generation += 1

    def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        if snapshot is None:
            raw = self.raw
            unknown = unknown_keys(raw, GLOBAL_DEFAULTS)
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
            if key in snapshot.raw:
                errors = global_type_errors({key: value})
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
        value = self._get("LABEL_STORAGE")
        return None if value is None else str(value)

    @property
    def label_root(self) -> str | None:
        value = self._get("LABEL_ROOT")
        return None if value is None else str(value)

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
    def api_permission_classes(self) -> list[type[BasePermission]]:
        """The DRF permission classes of the orders API, imported from their dotted paths."""
        return [import_string(path) for path in self._get("API_PERMISSION_CLASSES")]


#: The single instance the app reads settings through.
shipping_settings = ShippingSettings()


@receiver(setting_changed)
def _setting_changed(*, setting: str, **kwargs: object) -> None:
    if setting == SETTING_NAME:
        shipping_settings.reload()
