"""What a provider's HTTP answer holds, read safely: the body, its JSON, its error, its Retry-After.

Bodies are read up to ``MAX_RESPONSE_BYTES`` within the request's deadline and
parsed with their nesting bounded, so a hostile or broken answer is a typed
error, never a crash. Nothing here sends a request (:mod:`.client` does).
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Iterable
from typing import Any

import requests

from .conf import shipping_settings
from .documents import loads

#: Largest provider answer read; a larger one is an ``InvalidProviderResponse``.
MAX_RESPONSE_BYTES = 10 * 1024 * 1024
#: Deepest nesting of a provider's JSON answer (an order document needs about 5).
MAX_JSON_DEPTH = 64
_CHUNK = 64 * 1024


def transport_error(err: requests.RequestException) -> str:
    """The kind of transport failure, without URLs or headers (they may carry secrets)."""
    cause: object = err.args[0] if err.args else None
    while getattr(cause, "reason", None) is not None:  # urllib3 wraps the socket error
        cause = cause.reason  # type: ignore[attr-defined]
    if isinstance(cause, Exception) and type(cause).__name__ != type(err).__name__:
        return f"{type(err).__name__} ({type(cause).__name__})"
    return type(err).__name__


def read_body(response: requests.Response, deadline: float) -> None:
    """Read the body of a streamed response, refusing one over ``MAX_RESPONSE_BYTES``.

    ``deadline`` (monotonic) bounds the whole read: the read timeout alone is
    per socket read, so a body trickled a byte at a time would never end.
    """
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        raise TooLarge()
    buffer = bytearray()
    raw = response.raw
    while True:
        # read1 returns what has arrived (not a full chunk), so the deadline is seen.
        chunk = raw.read1(_CHUNK, decode_content=True)
        if not chunk:
            break
        buffer += chunk
        if len(buffer) > MAX_RESPONSE_BYTES:
            raise TooLarge()
        if time.monotonic() > deadline:
            raise _Overdue()
    # What Response.content sets after reading, so .content and .json() use this buffer.
    response._content = bytes(buffer)
    response._content_consumed = True  # type: ignore[attr-defined]  # not in the stubs


class _Overdue(requests.Timeout):
    """The answer took longer than the request's total deadline to arrive (a timeout)."""


class TooLarge(requests.RequestException):
    """The answer is larger than ``MAX_RESPONSE_BYTES`` (raised as a transport failure)."""


def load_json(content: bytes | str) -> Any:
    """Provider JSON, parsed with its nesting bounded; ``ValueError`` for anything unreadable.

    ``json`` itself gives up past about a thousand levels with ``RecursionError``;
    code that walks a document recursively would give up sooner, so the limit
    here is ``MAX_JSON_DEPTH``.
    """
    try:
        value = loads(content)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except MemoryError:
        raise ValueError("too large to parse") from None
    # Fewer brackets than the limit cannot nest past it: most answers skip the walk.
    raw = content.encode() if isinstance(content, str) else content
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and _too_deep(value, MAX_JSON_DEPTH):
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _too_deep(value: Any, limit: int) -> bool:
    """True when ``value`` nests lists and objects more than ``limit`` deep (no recursion)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[object] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def error_body(response: requests.Response) -> tuple[str, str, dict[str, Any]]:
    """The provider's ``error`` and ``error_description`` (wrapped or not), if any."""
    try:
        body = load_json(response.content) if response.content else {}
    except ValueError:
        return "", "", {}
    if isinstance(body, dict) and isinstance(body.get("response"), dict) and "error" not in body:
        body = body["response"]
    if not isinstance(body, dict):
        return "", "", {}
    code = body.get("error")
    description = body.get("error_description") or body.get("message") or ""
    if isinstance(code, dict):  # some APIs nest {"error": {"code", "message"}}
        description = description or str(code.get("message", ""))
        code = code.get("code", "")
    return str(code or ""), str(description), body


def parse_retry_after(response: requests.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), if present.

    Always finite, from 0 to ``RETRY_AFTER_MAX``: a provider cannot pause the
    shared budget for a year (or for ever) with a huge, infinite or far-future value.
    """
    value = response.headers.get("Retry-After")
    if not value:
        return None
    seconds: float | None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
            seconds = when.timestamp() - time.time()
        except (TypeError, ValueError, OverflowError, IndexError):
            return None
    return bound_retry_after(seconds)


def bound_retry_after(seconds: float | None) -> float | None:
    """``seconds`` as a pause the app honours: finite, from 0 to ``RETRY_AFTER_MAX``; None if NaN."""
    if seconds is None or math.isnan(seconds):
        return None
    return min(max(0.0, seconds), shipping_settings.retry_after_max)
