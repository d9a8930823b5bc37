"""Keeping secrets out of what we store, show and log: one place that knows them.

Every string that came from outside (a provider's error body, an exception
message, request headers) passes through :func:`scrub` or
:func:`redact_headers` before it is stored, shown or logged.
"""

from __future__ import annotations

from collections.abc import Mapping

from .conf import AccountSettings, shipping_settings

REDACTED = "[redacted]"
#: Header names that always hold credentials, and words that mark one.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_SECRET_WORDS = ("secret", "token", "key", "auth", "signature", "password")


def is_secret_header(name: str, account: AccountSettings | None = None) -> bool:
    """True for a header whose value must never be stored or shown."""
    lowered = name.lower()
    if account is not None and lowered == account.callback_secret_header.lower():
        return True
    return lowered in _SECRET_HEADERS or any(word in lowered for word in _SECRET_WORDS)


def redact_headers(
    headers: Mapping[str, str], account: AccountSettings | None = None
) -> dict[str, str]:
    """``headers`` with every credential replaced by ``[redacted]``.

    A header is redacted by its name (the account's secret header,
    Authorization, Cookie, anything naming a secret, token, key or auth) and
    also by its value, when it carries one of the account's secrets under
    an unexpected name.
    """
    secrets = _secrets_of(account)
    result = {}
    for name, value in headers.items():
        text = str(value)
        if is_secret_header(name, account) or any(secret in text for secret in secrets):
            text = REDACTED
        result[str(name)] = text.replace("\x00", "\\x00")
    return result


def scrub(text: str, account: AccountSettings | str | None) -> str:
    """``text`` with the account's secrets (callback secrets, API key) replaced."""
    if isinstance(account, str):
        try:
            account = shipping_settings.account(account)
        except Exception:  # a broken setting must not stop us from recording a failure
            account = None
    for secret in sorted(_secrets_of(account), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text.replace("\x00", "\\x00")  # PostgreSQL text cannot hold NUL


def _secrets_of(account: AccountSettings | None) -> list[str]:
    if account is None:
        return []
    return [secret for secret in (*account.callback_secrets, account.api_key) if secret]
