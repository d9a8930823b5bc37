"""System checks ``shipping_orders.E013`` and ``W023``: values of the right type that still cannot work.

:mod:`.setting` reports missing keys and wrong types; this module reports what
would only show later, in a log line or a refused request: an address list
given as one string, an address that is not one, a state nobody knows, a
``BASE_URL`` that is not a web address, a ``LABEL_ROOT`` that is a file, an
account alias that cannot be a part of the callback URL; and (W023) a
``LABEL_ROOT`` inside ``MEDIA_ROOT``, whose labels the media server would hand
to anyone with their address.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import PurePath
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from .. import states
from ..conf import SETTING_NAME
from ..storage import default_label_root

#: An account alias is a path segment of its callback URL (``callbacks/<alias>/``).
_ALIAS_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


def _error(message: str, hint: str) -> Error:
    return Error(message, hint=f"{hint} See docs/settings.md.", id="shipping_orders.E013")


@register(Tags.compatibility)
def check_values(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every value of ``SHIPPING_ORDERS`` that has the right type but cannot work."""
    raw = getattr(settings, SETTING_NAME, None)
    if not isinstance(raw, dict):
        return []  # reported by check_settings
    messages: list[CheckMessage] = []
    given = raw.get("LABEL_ROOT")
    # str(): a lazy object passes for its type, and the app reads it as text too.
    root = str(given) if isinstance(given, str | PurePath) else None
    if root and os.path.exists(root) and not os.path.isdir(root):
        messages.append(
            _error(
                f"{SETTING_NAME}['LABEL_ROOT'] is {str(root)!r}, which is a file, not a directory.",
                "Point LABEL_ROOT at a directory (created when the first label is saved).",
            )
        )
    media = getattr(settings, "MEDIA_ROOT", "")
    if not given and not raw.get("LABEL_STORAGE"):
        root = default_label_root()  # where ``storage.label_storage`` puts them then
    if root and isinstance(media, str | PurePath) and str(media) and _inside(root, str(media)):
        messages.append(
            Warning(
                f"{SETTING_NAME}['LABEL_ROOT'] ({str(root)!r}) is inside MEDIA_ROOT: labels "
                "carry the receiver's name and address, and the media server hands them to "
                "anyone with their address, without the admin's permission check.",
                hint="Point LABEL_ROOT at a directory no web server serves (the default is "
                "BASE_DIR / 'private-media'). See docs/admin.md.",
                id="shipping_orders.W023",
            )
        )
    accounts = raw.get("ACCOUNTS")
    if isinstance(accounts, dict):
        for alias, account in accounts.items():
            if isinstance(account, dict):
                messages.extend(_check_account(str(alias), account))
    return messages


def _inside(path: str, parent: str) -> bool:
    """Whether ``path`` is ``parent`` or below it, links resolved."""
    try:
        path, parent = os.path.realpath(path), os.path.realpath(parent)
        return os.path.commonpath([path, parent]) == parent
    except (TypeError, ValueError):  # relative and absolute, other drives: not inside
        return False


def _check_account(alias: str, given: dict[str, Any]) -> list[CheckMessage]:
    where = f"{SETTING_NAME}['ACCOUNTS'][{alias!r}]"
    messages: list[CheckMessage] = []
    if not _ALIAS_RE.fullmatch(alias):
        messages.append(
            _error(
                f"The account alias {alias!r} cannot be a part of its callback URL "
                f"(callbacks/{alias}/).",
                "Name accounts with letters, digits, '-', '_' and '.' only, e.g. 'au-main'.",
            )
        )
    for key, example in (
        ("CALLBACK_ALLOWED_IPS", '["203.0.113.7", "198.51.100.0/24"]'),
        ("LABEL_HOSTS", '["shippit.com"]'),
    ):
        if isinstance(given.get(key), str):
            messages.append(
                _error(
                    f"{where}['{key}'] is one string, {given[key]!r}; it must be a list.",
                    f"Write it as a list, e.g. {key}: {example}.",
                )
            )
    addresses = given.get("CALLBACK_ALLOWED_IPS")
    entries = [addresses] if isinstance(addresses, str) else addresses
    if isinstance(entries, list | tuple):
        for entry in entries:
            if not isinstance(entry, str):
                continue  # a wrong type: E007
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                messages.append(
                    _error(
                        f"{where}['CALLBACK_ALLOWED_IPS'] has {entry!r}, which is not an IP "
                        "address or network; callbacks from it would be refused.",
                        "Write addresses or networks: '203.0.113.7', '198.51.100.0/24', '2001:db8::/32'.",
                    )
                )
    state_map = given.get("STATE_MAP")
    if isinstance(state_map, dict):
        for theirs, ours in state_map.items():
            if isinstance(ours, str) and ours.strip().lower() not in states.STATES:
                messages.append(
                    _error(
                        f"{where}['STATE_MAP'] maps {theirs!r} to {ours!r}, which is not a known state.",
                        f"Map to one of: {', '.join(sorted(states.STATES))}.",
                    )
                )
    base_url = given.get("BASE_URL")
    if isinstance(base_url, str) and base_url:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            messages.append(
                _error(
                    f"{where}['BASE_URL'] is {base_url!r}, which is not an http(s) address.",
                    "Write the provider's API address, e.g. 'https://app.shippit.com/api/3'.",
                )
            )
    return messages
