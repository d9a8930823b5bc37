"""Reading JSON that someone else wrote, within limits, before any value in it is used.

A callback body (and a provider's answer) is parsed the way the app keeps it:
numbers with a fraction or an exponent become exact ``Decimal``. Left
unbounded, a few bytes can cost minutes: ``int()`` of ``1E+999999999`` never
ends, 100 000 empty parcels take seconds and a hundred megabytes to turn into
rows, and one lone surrogate (``"\\ud800"``) or NUL is text that no database
stores, so every later write quoting it fails too. :func:`read` refuses all of
these with :class:`~.exceptions.UnreadableDocument` (its ``code`` says which
limit) while the body is still only parsed JSON:

- a body longer than ``max_bytes`` (``too_large``);
- not JSON, or ``NaN`` / ``Infinity`` (``invalid_json``);
- a number with more digits or a larger exponent than allowed, judged on its
  text before ``Decimal`` or ``int`` sees it (``number_too_large``);
- nesting deeper than ``max_depth`` (``too_deep``);
- an array with more than ``max_items`` entries: parcels, products, status
  history (``too_many_items``);
- a key or a text value holding NUL or a lone surrogate (``unstorable_text``).

The limits are the ``DOCUMENT_LIMITS`` setting (docs/settings.md); the
defaults are far above any real order and far below anything expensive.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .exceptions import UnreadableDocument

#: Characters no supported database stores in text: NUL, and lone UTF-16 surrogates.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: A surrogate (U+D800 to U+DFFF) encoded as UTF-8: bytes ED A0 to ED BF, then one more.
_SURROGATE_BYTES = re.compile(rb"\xed[\xa0-\xbf]")


@dataclass(frozen=True)
class Limits:
    """What :func:`read` accepts (``DOCUMENT_LIMITS``; ``max_bytes`` is for the caller to set)."""

    max_depth: int = 20
    max_items: int = 1000
    max_number_digits: int = 40
    max_number_exponent: int = 40
    max_bytes: int | None = None


#: The limits applied when a caller gives none.
DEFAULT_LIMITS = Limits()


def read(body: bytes | str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Parse ``body`` within ``limits``; raises ``UnreadableDocument`` naming the first problem."""
    if limits.max_bytes is not None and len(body) > limits.max_bytes:
        raise UnreadableDocument(
            f"The body has {len(body)} bytes; the limit is {limits.max_bytes}.", code="too_large"
        )

    max_digits = limits.max_number_digits

    # Most numbers are short and have no exponent: judged here, without a call.
    def number(text: str) -> Decimal:
        if len(text) > max_digits or "e" in text or "E" in text:
            _check_number(text, limits)
        return Decimal(text)

    def integer(text: str) -> int:
        if len(text) > max_digits:
            _check_number(text, limits)
        return int(text)

    try:
        value = json.loads(
            body, parse_float=number, parse_int=integer, parse_constant=_not_a_number
        )
    except RecursionError:
        raise UnreadableDocument(
            f"The body is nested deeper than {limits.max_depth} levels.", code="too_deep"
        ) from None
    except UnreadableDocument:
        raise
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
        raise UnreadableDocument(
            f"The body is not valid JSON ({storable(str(err))}).", code="invalid_json"
        ) from None
    _check_structure(value, limits, texts=_may_hold_unstorable(body))
    return value


def _may_hold_unstorable(body: bytes | str) -> bool:
    """Whether any text parsed from ``body`` may hold NUL or a lone surrogate.

    Valid JSON holds neither as such, only as a ``\\u`` escape or (bytes,
    which ``json`` decodes with ``surrogatepass``) as a UTF-8-encoded
    surrogate. A body with neither needs no text of it searched.
    """
    if isinstance(body, str):
        return "\\u" in body or _UNSTORABLE.search(body) is not None
    if json.detect_encoding(body) != "utf-8":
        return True  # UTF-16 or UTF-32: searched text by text
    return b"\\u" in body or _SURROGATE_BYTES.search(body) is not None


def storable(text: str) -> str:
    """``text`` with NUL and lone surrogates written as escapes: safe for any database."""
    if _UNSTORABLE.search(text) is None:
        return text
    return _UNSTORABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _not_a_number(text: str) -> Any:
    raise UnreadableDocument(f"{text} is not a JSON number.", code="invalid_json")


def _check_number(text: str, limits: Limits) -> None:
    if len(text) <= limits.max_number_digits and "e" not in text and "E" not in text:
        return  # no exponent, and no more characters than the digits allowed (most numbers)
    mantissa, _, exponent = text.lower().partition("e")
    digits = sum(1 for char in mantissa if char.isdigit())
    if digits > limits.max_number_digits:
        raise UnreadableDocument(
            f"A number has {digits} digits; the limit is {limits.max_number_digits} "
            "(DOCUMENT_LIMITS['MAX_NUMBER_DIGITS']).",
            code="number_too_large",
        )
    if exponent:
        exponent_digits = exponent.lstrip("+-")
        if (
            len(exponent_digits) > len(str(limits.max_number_exponent))
            or int(exponent_digits) > limits.max_number_exponent
        ):
            raise UnreadableDocument(
                f"A number has the exponent {exponent[:12]}; the limit is "
                f"{limits.max_number_exponent} (DOCUMENT_LIMITS['MAX_NUMBER_EXPONENT']).",
                code="number_too_large",
            )


def _check_structure(value: Any, limits: Limits, *, texts: bool = True) -> None:
    """Depth, array sizes and text, walked without recursion; each array is sized before entry.

    ``texts``: search keys and text for what no database stores (False when
    the body cannot hold it, :func:`_may_hold_unstorable`).
    """
    if type(value) is str:
        if _UNSTORABLE.search(value):
            _unstorable(())
        return
    if type(value) is not dict and type(value) is not list:
        return
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(value, 1, ())]
    while stack:
        node, depth, path = stack.pop()
        if depth > limits.max_depth:
            raise UnreadableDocument(
                f"The body is nested deeper than {limits.max_depth} levels "
                "(DOCUMENT_LIMITS['MAX_DEPTH']).",
                code="too_deep",
                field=_path(path),
            )
        if type(node) is dict:
            items: Any = node.items()
        else:
            if len(node) > limits.max_items:
                raise UnreadableDocument(
                    f"{_path(path) or 'The body'} has {len(node)} entries; the limit is "
                    f"{limits.max_items} (DOCUMENT_LIMITS['MAX_ITEMS']).",
                    code="too_many_items",
                    field=_path(path),
                )
            items = enumerate(node)
        if not texts:
            for key, item in items:
                if type(item) is dict or type(item) is list:
                    stack.append((item, depth + 1, (*path, key)))
            continue
        for key, item in items:
            if type(key) is str and _UNSTORABLE.search(key):
                _unstorable((*path, storable(key)))
            kind = type(item)
            if kind is str:
                if _UNSTORABLE.search(item):
                    _unstorable((*path, key))
            elif kind is dict or kind is list:
                stack.append((item, depth + 1, (*path, key)))


def _unstorable(path: tuple[str | int, ...]) -> None:
    raise UnreadableDocument(
        f"Field {_path(path)!r} holds text no database can store (NUL or a lone surrogate).",
        code="unstorable_text",
        field=_path(path),
    )


def _path(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
