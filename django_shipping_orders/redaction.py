"""Keeping secrets out of what we store, show and log: one place that knows them.

Every string that came from outside (a provider's error body, an exception
message, request headers, a logged request path that may hold a callback URL
token) passes through :func:`scrub` or :func:`redact_headers` before it is
stored, shown or logged. :func:`scrub` replaces every configured API key and
callback secret, of every account, as written and URL-encoded.

Where it is applied:

- the HTTP client scrubs provider text as it enters the app (:mod:`.client`);
- the callback view scrubs what it records and answers, and its DEBUG error
  page (:class:`ScrubbingExceptionReporter`);
- :class:`SecretsFilter` scrubs log records: the app installs it on its own
  loggers and on Django's ``django.request``, ``django.server`` and
  ``django.template`` (which log request paths); add it to your own handlers
  for everything else (docs/security.md).
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.safestring import SafeString, mark_safe
from django.views.debug import ExceptionReporter

from .conf import AccountSettings, shipping_settings

REDACTED = "[redacted]"
#: Header names that always hold credentials, and words that mark one.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_SECRET_WORDS = ("secret", "token", "key", "auth", "signature", "password")
#: Django's loggers that write request paths (where a callback URL token may sit):
#: the request log, runserver's, and the template log, which at DEBUG quotes the context
#: of a failed lookup (an error page's context holds the request).
DJANGO_LOGGERS = ("django.request", "django.server", "django.template")


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
    also by its value, when it carries a configured secret under an
    unexpected name.
    """
    secrets = _secrets(account)
    result = {}
    for name, value in headers.items():
        text = str(value)
        if is_secret_header(name, account) or any(secret in text for secret in secrets):
            text = REDACTED
        result[str(name)] = text.replace("\x00", "\\x00")
    return result


def scrub(text: str, account: AccountSettings | str | None = None) -> str:
    """``text`` with every configured secret (API keys, callback secrets) replaced.

    The secrets of every account in ``SHIPPING_ORDERS`` are replaced, plus
    those of ``account`` when it is an ``AccountSettings`` built elsewhere;
    an alias adds nothing (its account is among the configured ones).
    """
    extra = account if isinstance(account, AccountSettings) else None
    secrets = _secrets(extra)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if "%" in text or "\\" in text:
        # Encoded another way: lowercase hex, in part, or JSON-escaped (``\\/``, ``\\u0041``).
        text = _text_spellings(tuple(secrets)).sub(REDACTED, text)
    if "@" in text:
        # A broker's or a cache's URL in an error message carries its password.
        text = _URL_CREDENTIALS.sub(rf"\1{REDACTED}@", text)
    return text.replace("\x00", "\\x00")  # PostgreSQL text cannot hold NUL


#: The user and password of a URL (``redis://:password@host``), up to the ``@``.
_URL_CREDENTIALS = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")


#: Secrets shorter than this are not blanked out of provider data and callback bodies.
MIN_DATA_SECRET_LENGTH = 16


def scrub_bytes(data: bytes, account: AccountSettings | str | None = None) -> bytes:
    """``data`` (a provider answer, a callback body) with every configured secret replaced.

    Done on the bytes, before anything parses or stores them: a secret echoed
    in a field never reaches an ``Order``, its ``raw``, the admin or the API.
    """
    extra = account if isinstance(account, AccountSettings) else None
    for secret in _secrets(extra):
        if len(secret) < MIN_DATA_SECRET_LENGTH:
            # A short secret ("s3cret") also spells ordinary data: blanking it out of an
            # order reference would mirror the wrong order. Logs and errors still hide it.
            continue
        encoded = secret.encode()
        if encoded in data:
            data = data.replace(encoded, REDACTED.encode())
    if b"%" in data or b"\\" in data:
        # Escaped by the provider's JSON (``\\/``, ``\\u00e9``) or URL-encoded, the secret
        # reads back in clear once parsed: every such spelling is blanked out too.
        long_enough = tuple(s for s in _secrets(extra) if len(s) >= MIN_DATA_SECRET_LENGTH)
        if long_enough:
            data = _bytes_spellings(long_enough).sub(REDACTED.encode(), data)
    return data


@functools.lru_cache(maxsize=8)
def _text_spellings(secrets: tuple[str, ...]) -> re.Pattern[str]:
    """:func:`_spellings_pattern` for text (log records, error messages)."""
    return re.compile(_spellings_pattern(secrets, in_bytes=False))


@functools.lru_cache(maxsize=8)
def _bytes_spellings(secrets: tuple[str, ...]) -> re.Pattern[bytes]:
    """:func:`_spellings_pattern` for undecoded data (provider answers, callback bodies)."""
    return re.compile(_spellings_pattern(secrets, in_bytes=True).encode())


def _spellings_pattern(secrets: tuple[str, ...], *, in_bytes: bool) -> str:
    """One pattern (ASCII) matching each of ``secrets`` however it is written, character by character.

    Each character as itself, percent-encoded (either case of hex), or as a
    JSON escape (``\\uXXXX`` in either case, ``\\/``, ``\\"``, ``\\\\``). Longest secret first.
    """
    return "|".join(
        "".join(_any_spelling(char, in_bytes) for char in secret)
        for secret in sorted(secrets, key=len, reverse=True)
    )


def _any_spelling(char: str, in_bytes: bool) -> str:
    """A pattern (ASCII text) for ``char`` as itself, percent-encoded or JSON-escaped."""
    utf8 = char.encode("utf-8", "surrogatepass")
    if in_bytes:
        ways = ["".join(f"\\x{byte:02x}" for byte in utf8)]
    else:
        ways = [f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}"]
    ways.append("".join("%" + _hex_any_case(byte, 2) for byte in utf8))
    if ord(char) <= 0xFFFF:
        ways.append("\\\\u" + _hex_any_case(ord(char), 4))
    if char in '/"\\':
        ways.append("\\\\" + f"\\x{ord(char):02x}")
    if char == " ":
        ways.append("\\+")
    return "(?:" + "|".join(ways) + ")"


def _hex_any_case(number: int, digits: int) -> str:
    return "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{number:0{digits}x}")


# -- the secrets ----------------------------------------------------------------------------

_cache_lock = threading.Lock()
_configured: list[str] | None = None


def _secrets(extra: AccountSettings | None) -> list[str]:
    """Every configured secret, longest first, as written and URL-encoded."""
    global _configured
    configured = _configured
    if configured is None:
        try:
            accounts = shipping_settings.accounts()
        except Exception:  # a broken setting must not stop us from recording a failure
            accounts = []
        configured = _spellings(accounts)
        with _cache_lock:
            _configured = configured
    if extra is None:
        return configured
    own = [secret for secret in _spellings([extra]) if secret not in configured]
    return sorted([*configured, *own], key=len, reverse=True) if own else configured


def _spellings(accounts: list[AccountSettings]) -> list[str]:
    found: set[str] = set()
    for account in accounts:
        for secret in (*account.callback_secrets, account.api_key):
            if secret:
                found.add(secret)
                found.add(quote(secret, safe=""))  # as it appears in a logged URL path
    return sorted(found, key=len, reverse=True)


@receiver(setting_changed)
def _forget_secrets(*, setting: str, **kwargs: Any) -> None:
    global _configured
    if setting == "SHIPPING_ORDERS":
        with _cache_lock:
            _configured = None


# -- logging and error pages ----------------------------------------------------------------


class SecretsFilter(logging.Filter):
    """Replaces configured secrets in a log record's message and traceback with ``[redacted]``.

    Attach it to a handler to cover every logger that handler serves::

        LOGGING = {
            ...,
            "filters": {"secrets": {"()": "django_shipping_orders.redaction.SecretsFilter"}},
            "handlers": {"console": {..., "filters": ["secrets"]}},
        }
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging module's to report
            return True
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            clean = scrub(text)
            if clean != text:
                record.exc_text = clean  # formatters use it instead of formatting again
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


_filter = SecretsFilter()


def get_logger(name: str) -> logging.Logger:
    """The logger ``name`` with :class:`SecretsFilter` installed (the app's loggers use this)."""
    logger = logging.getLogger(name)
    if not any(isinstance(item, SecretsFilter) for item in logger.filters):
        logger.addFilter(_filter)
    return logger


def install_log_filters() -> None:
    """Put :class:`SecretsFilter` on Django's loggers that log request paths."""
    for name in DJANGO_LOGGERS:
        get_logger(name)


class ScrubbingExceptionReporter(ExceptionReporter):
    """Django's error report (the DEBUG page, the admins' e-mail) with secrets replaced.

    The callback view uses it for its own requests, whose path may hold a URL
    token; set ``DEFAULT_EXCEPTION_REPORTER`` to this class to use it everywhere.
    """

    # Django's page is escaped HTML: replacing a secret by "[redacted]" keeps it so.
    def get_traceback_html(self) -> SafeString:
        return mark_safe(scrub(str(super().get_traceback_html())))  # noqa: S308

    def get_traceback_text(self) -> SafeString:
        return mark_safe(scrub(str(super().get_traceback_text())))  # noqa: S308
