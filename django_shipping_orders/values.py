"""Reading one value of a provider's document: text, numbers that fit their column, times, states.

Each parser takes ``(value, name)`` and returns the typed value, or raises
``DocumentError`` naming the field when the value has the wrong type, and
``ValueOutOfRange`` (a ``DocumentError``) when it is a number its column
cannot hold. A number is judged against the column it is headed for
(``max_digits`` / ``decimal_places``, the integer range every supported
database shares) here, while the document is parsed: a value stored out of
range would fail the write on PostgreSQL and MySQL, and on SQLite make every
query that reads the row raise. ``documents.parse_order_document`` leaves
such a field unset and keeps the provider's value in ``raw``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import datetime
from datetime import timezone as dt_timezone
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from django.utils.dateparse import parse_datetime

from .exceptions import DocumentError, ValueOutOfRange

Parser = Callable[[Any, str], Any]

#: ``IntegerField`` on every supported database (PostgreSQL and MySQL are 32-bit).
INTEGER_RANGE = (-(2**31), 2**31 - 1)

_CURRENCY = re.compile(r"[A-Z]{3}")
_STATE_SEPARATORS = re.compile(r"[\s\-]+")


def text(value: Any, name: str) -> str:
    """Text; a number is written as its exact value reads (``0.1`` stays ``"0.1"``).

    Its digits are kept, not its spelling: the body's reader has made it a
    number already, so ``1E2`` is ``"1E+2"`` and ``-0`` is ``"0"``.
    """
    if value is None:
        return ""
    if isinstance(value, bool | dict | list):
        raise DocumentError(f"Field {name!r} must be text, got {type(value).__name__}.", field=name)
    return str(value)


def number(value: Any, name: str) -> Decimal | None:
    """Any finite number (no column limit): ``None`` for null or ""."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise DocumentError(f"Field {name!r} must be a number, got {value!r}.", field=name)
    try:
        # A Decimal is taken as the JSON reader gave it; for anything else str() first: a
        # float that slipped through keeps its shortest exact spelling.
        result = value if type(value) is Decimal else Decimal(str(value).strip())
    except InvalidOperation:
        raise DocumentError(
            f"Field {name!r} must be a number, got {_short(value)}.", field=name
        ) from None
    if not result.is_finite():
        raise DocumentError(
            f"Field {name!r} must be a finite number, got {_short(value)}.", field=name
        )
    return result


class DecimalParser:
    """Reads numbers for a ``DecimalField(max_digits, decimal_places)``.

    A value with more places than the column is rounded to them (as the
    database would, so an unchanged answer compares equal to what is stored);
    one that then needs more digits than the column holds is refused with
    ``ValueOutOfRange`` when the rounded value needs more digits.
    """

    def __init__(self, max_digits: int, decimal_places: int) -> None:
        self.max_digits = max_digits
        self.decimal_places = decimal_places
        self._step = Decimal(1).scaleb(-decimal_places)
        self._limit = Decimal(10) ** (max_digits - decimal_places)

    def __call__(self, value: Any, name: str) -> Decimal | None:
        result = number(value, name)
        if result is None:
            return None
        if result.adjusted() < self.max_digits:  # quantize of a huge exponent would trap
            rounded = result
            exponent = result.as_tuple().exponent
            if isinstance(exponent, int) and exponent < -self.decimal_places:
                rounded = result.quantize(self._step, rounding=ROUND_HALF_EVEN)
            if abs(rounded) < self._limit:
                return rounded
        raise ValueOutOfRange(
            f"Field {name!r} is {_short(value)}: more than the "
            f"{self.max_digits - self.decimal_places} digits before the point its column "
            "holds; not stored, kept in raw.",
            field=name,
        )


def decimal_parser(max_digits: int, decimal_places: int) -> DecimalParser:
    """A parser of numbers for a ``DecimalField(max_digits, decimal_places)``."""
    return DecimalParser(max_digits, decimal_places)


def integer(value: Any, name: str) -> int | None:
    """A whole number within ``INTEGER_RANGE``."""
    result = number(value, name)
    if result is None:
        return None
    low, high = INTEGER_RANGE
    if result.adjusted() > 18 or not low <= result <= high:
        raise ValueOutOfRange(
            f"Field {name!r} is {_short(value)}: outside the range its column holds "
            f"({low} to {high}); not stored, kept in raw.",
            field=name,
        )
    if result != result.to_integral_value():
        raise DocumentError(
            f"Field {name!r} must be a whole number, got {_short(value)}.", field=name
        )
    return int(result)


def boolean(value: Any, name: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "yes", "no", "1", "0"}:
        return value.strip().lower() in {"true", "yes", "1"}
    raise DocumentError(f"Field {name!r} must be true or false, got {_short(value)}.", field=name)


def timestamp(value: Any, name: str) -> datetime | None:
    """An aware datetime from ISO 8601 text; a time without offset is read as UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise DocumentError(
            f"Field {name!r} must be an ISO 8601 time, got {_short(value)}.", field=name
        )
    written = value.strip()
    if written.endswith("Z"):
        written = written[:-1] + "+00:00"
    try:
        parsed = parse_datetime(written)
    except ValueError:
        parsed = None
    if parsed is None:
        raise DocumentError(
            f"Field {name!r} must be an ISO 8601 time, got {_short(value)}.", field=name
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt_timezone.utc)
    try:
        # Every time is compared in UTC; one that has no UTC form (9999-12-31T23:59-12:00)
        # would fail there, on every retry, instead of here.
        parsed.astimezone(dt_timezone.utc)
    except OverflowError:
        raise DocumentError(
            f"Field {name!r} is a time outside the range of dates in UTC: {_short(value)}.",
            field=name,
        ) from None
    return parsed


def json_object(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DocumentError(f"Field {name!r} must be an object, got {_short(value)}.", field=name)
    return value


def json_list(value: Any, name: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DocumentError(f"Field {name!r} must be a list, got {_short(value)}.", field=name)
    return value


def currency(value: Any, name: str) -> str:
    """An ISO 4217 code (``"nzd"`` reads ``"NZD"``); anything else is a ``DocumentError``."""
    code = value.strip().upper() if isinstance(value, str) else ""
    if not _CURRENCY.fullmatch(code):
        raise DocumentError(
            f"Field {name!r} is {_short(value)}, not an ISO 4217 currency code; "
            "not stored, kept in raw.",
            field=name,
        )
    return code


def state(value: str) -> str:
    """A state as the app compares it: ``"Ready For-Pickup "`` reads ``"ready_for_pickup"``.

    Invisible format characters (a zero-width space) are dropped, the rest is
    lower-cased, and runs of spaces and hyphens become one underscore. The
    provider's own spelling stays in ``raw``.
    """
    folded = unicodedata.normalize("NFKC", value)
    folded = "".join(char for char in folded if unicodedata.category(char) != "Cf")
    return _STATE_SEPARATORS.sub("_", folded.strip().lower())


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
