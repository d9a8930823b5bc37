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
import json
import logging
import re
import threading
from collections.abc import Mapping
from typing import Any, AnyStr

from django.conf import settings
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
    result = {}
    for name, value in headers.items():
        text = str(value)
        if is_secret_header(name, account) or _blank(text, _secrets(account)) != text:
            text = REDACTED  # a secret in it, however written: the whole value goes
        result[str(name)] = text.replace("\x00", "\\x00")
    return result


def scrub(text: str, account: AccountSettings | str | None = None) -> str:
    """``text`` with every configured secret (API keys, callback secrets) replaced.

    The secrets of every account in ``SHIPPING_ORDERS`` are replaced, plus
    those of ``account`` when it is an ``AccountSettings`` built elsewhere;
    an alias adds nothing (its account is among the configured ones). Each is
    found however it is written (:func:`_spellings_pattern`).
    """
    extra = account if isinstance(account, AccountSettings) else None
    text = _blank(text, _secrets(extra))
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
    A body in UTF-16 or UTF-32 (JSON allows them) is searched as the text it is.
    """
    extra = account if isinstance(account, AccountSettings) else None
    # A short secret ("s3cret") also spells ordinary data: blanking it out of an order
    # reference would mirror the wrong order. Logs and errors still hide it.
    secrets = tuple(s for s in _secrets(extra) if len(s) >= MIN_DATA_SECRET_LENGTH)
    if not secrets or not data:
        return data
    encoding = json.detect_encoding(data)
    if encoding not in ("utf-8", "utf-8-sig"):
        # Searched as the text it is; a lone surrogate or a last odd byte is kept as it
        # came (the parser refuses the body), never a reason to search nothing.
        unit = 4 if "32" in encoding else 2
        whole = len(data) - len(data) % unit
        try:
            text = data[:whole].decode(encoding, "surrogatepass")
        except UnicodeDecodeError:
            return data  # not text in that encoding: refused as not JSON, never parsed
        blanked = _blank(text, secrets, json_data=True)
        if blanked == text:
            return data
        return blanked.encode(encoding, "surrogatepass") + data[whole:]
    if _maybe_encoded(data, secrets):
        return _bytes_spellings(secrets).sub(_KEEP_BACKSLASHES + REDACTED.encode(), data)
    for secret in secrets:
        encoded = secret.encode()
        if encoded in data:
            data = data.replace(encoded, REDACTED.encode())
    return data


def _blank(text: str, secrets: tuple[str, ...], *, json_data: bool = False) -> str:
    """``text`` with each of ``secrets`` replaced, however written.

    ``json_data``: ``text`` is JSON to be parsed, which must stay valid: a
    match starts only where an escape may (:data:`_ESCAPE_BOUNDARY`).
    """
    if not secrets:
        return text
    if _maybe_encoded(text, secrets):
        # One pass that also takes each escape whole: a literal pass first could leave
        # half an escape behind (``\\/secret`` would become ``\\[redacted]``, broken JSON).
        if json_data:
            return _json_spellings(secrets).sub(_KEEP_BACKSLASHES.decode() + REDACTED, text)
        return _text_spellings(secrets).sub(REDACTED, text)
    for secret in secrets:  # longest first
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _maybe_encoded(data: AnyStr, secrets: tuple[str, ...]) -> bool:
    """Whether ``data`` may hold a secret written another way than as itself."""
    if isinstance(data, bytes):
        return b"%" in data or b"\\" in data or (b"+" in data and _has_space(secrets))
    return "%" in data or "\\" in data or ("+" in data and _has_space(secrets))


@functools.lru_cache(maxsize=8)
def _has_space(secrets: tuple[str, ...]) -> bool:
    return any(" " in secret for secret in secrets)


@functools.lru_cache(maxsize=8)
def _text_spellings(secrets: tuple[str, ...]) -> re.Pattern[str]:
    """:func:`_spellings_pattern` for text (log records, error messages)."""
    return re.compile(_spellings_pattern(secrets, in_bytes=False))


@functools.lru_cache(maxsize=8)
def _json_spellings(secrets: tuple[str, ...]) -> re.Pattern[str]:
    """:func:`_spellings_pattern` for JSON text (a UTF-16 or UTF-32 body), at escape boundaries."""
    return re.compile(_ESCAPE_BOUNDARY + _spellings_pattern(secrets, in_bytes=False) + ")")


@functools.lru_cache(maxsize=8)
def _bytes_spellings(secrets: tuple[str, ...]) -> re.Pattern[bytes]:
    """:func:`_spellings_pattern` for undecoded UTF-8 (provider answers, callback bodies), at
    escape boundaries."""
    return re.compile(
        (_ESCAPE_BOUNDARY + _spellings_pattern(secrets, in_bytes=True) + ")").encode()
    )


#: In JSON, where a match may start: not inside an escape. Any escaped backslashes (``\\\\``)
#: before it are matched as whole pairs and put back (:data:`_KEEP_BACKSLASHES`): so
#: ``"C:\\\\/secret"`` keeps its backslash and stays valid, and the text ``\\\\u0073…``
#: (a backslash, then ``u0073…``) is not taken for an escaped ``s``.
_ESCAPE_BOUNDARY = r"(?<!\\)((?:\\\\)*)(?:"
_KEEP_BACKSLASHES = rb"\g<1>"


def _spellings_pattern(secrets: tuple[str, ...], *, in_bytes: bool) -> str:
    """One pattern (ASCII) matching each of ``secrets`` however it is written, character by character.

    Each character as a JSON escape (``\\uXXXX`` in either case, a surrogate pair
    above U+FFFF, ``\\/``, ``\\"``, ``\\\\``), percent-encoded (either case of hex; ``+``
    for a space), or as itself, tried in that order so that an escape is taken
    whole. Longest secret first.
    """
    return "|".join(
        "".join(_any_spelling(char, in_bytes) for char in secret)
        for secret in sorted(secrets, key=len, reverse=True)
    )


def _any_spelling(char: str, in_bytes: bool) -> str:
    """A pattern (ASCII text) for ``char``: JSON-escaped, percent-encoded, or as itself."""
    code = ord(char)
    utf8 = char.encode("utf-8", "surrogatepass")
    ways = []
    if char in '/"\\':
        ways.append("\\\\" + f"\\x{code:02x}")
    if code <= 0xFFFF:
        ways.append("\\\\u" + _hex_any_case(code, 4))
    else:
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        ways.append("\\\\u" + _hex_any_case(high, 4) + "\\\\u" + _hex_any_case(low, 4))
    ways.append("".join("%" + _hex_any_case(byte, 2) for byte in utf8))
    if char == " ":
        ways.append("\\+")
    if in_bytes:
        ways.append("".join(f"\\x{byte:02x}" for byte in utf8))
    else:
        ways.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return "(?:" + "|".join(ways) + ")"


def _hex_any_case(number: int, digits: int) -> str:
    return "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{number:0{digits}x}")


# -- the secrets ----------------------------------------------------------------------------

_cache_lock = threading.Lock()
_configured: tuple[int, tuple[str, ...]] | None = None


def _secrets(extra: AccountSettings | None) -> tuple[str, ...]:
    """Every configured secret as configured, longest first (the patterns find other spellings)."""
    global _configured
    cached = _configured
    generation = shipping_settings.generation
    if cached is None or cached[0] != generation:
        cached = (generation, _configured_secrets())
        with _cache_lock:
            _configured = cached
    configured = cached[1]
    if extra is None:
        return configured
    own = [s for s in (*extra.callback_secrets, extra.api_key) if s and s not in configured]
    return tuple(sorted({*configured, *own}, key=len, reverse=True)) if own else configured


def _configured_secrets() -> tuple[str, ...]:
    """The secrets of every account: as read, and as written in the setting.

    Read from the raw setting too: one broken account (a wrong type) makes
    reading the accounts fail, and must not leave every other account's
    secrets in clear in the records of that failure.
    """
    found: set[str] = set()
    try:
        accounts_read = shipping_settings.accounts()
    except Exception:  # a broken setting must not stop us from recording a failure
        accounts_read = []
    for account in accounts_read:
        found.update(s for s in (*account.callback_secrets, account.api_key) if s)
    raw = getattr(settings, "SHIPPING_ORDERS", None)
    accounts = raw.get("ACCOUNTS") if isinstance(raw, dict) else None
    for given in accounts.values() if isinstance(accounts, dict) else ():
        if not isinstance(given, dict):
            continue
        secrets = given.get("CALLBACK_SECRETS")
        listed = [secrets] if isinstance(secrets, str) else secrets
        for value in (given.get("API_KEY"), *(listed if isinstance(listed, list | tuple) else ())):
            if isinstance(value, str) and value.strip():
                found.add(value)
    return tuple(sorted(found, key=len, reverse=True))


@receiver(setting_changed)
def _forget_secrets(*, setting: str, **kwargs: Any) -> None:
    global _configured
    if setting == "SHIPPING_ORDERS":
        with _cache_lock:
            _configured = None
        for cached in (_text_spellings, _json_spellings, _bytes_spellings, _has_space):
            cached.cache_clear()


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
