"""Parcels and products, and values made to fit their columns.

The lines of an order are replaced as a whole when they differ, in the same
number of queries whatever their count. The order keeps a digest of the
lines each was last written from (``Order.parcels_digest`` and
``products_digest``): a document listing the same lines again, as most
callbacks and polls do, is recognised without reading or writing a line.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import connection, models, router

from .. import statements
from ..documents import LineDocument
from ..models import Order, Parcel, PayloadEncoder, Product
from ..models.encoding import decimal_as_stored
from ..shipped import keep_shipped

if TYPE_CHECKING:
    from .held import HeldWrites

#: Parcels or products: one function writes both kinds of line.
_Line = TypeVar("_Line", Parcel, Product)


def fit(model: type[Order] | type[Parcel] | type[Product], name: str, value: Any) -> Any:
    """``value`` made to fit its column: an out-of-range provider value must not fail the write.

    Text is cut to the column's length, a decimal rounded to its places, and
    a number too large for its column is left out (``None``). The full value
    stays in ``raw``; PostgreSQL and MySQL would otherwise refuse the row,
    and the order would never sync again. What a column holds is looked up
    once per column (every value of every document passes here).
    """
    column = _COLUMNS.get((model, name))
    if column is None:
        column = _COLUMNS[model, name] = _Column.of(model._meta.get_field(name))
    if value is None or isinstance(value, bool) or not column.is_field:
        return value
    if isinstance(value, str):
        max_length = column.max_length
        return value[:max_length] if max_length and len(value) > max_length else value
    if column.places is not None and isinstance(value, Decimal):
        return fit_decimal(value, column.places, column.whole_digits)
    if column.integer is not None and isinstance(value, int):
        low, high = connection.ops.integer_field_range(column.integer)
        if (low is not None and value < low) or (high is not None and value > high):
            return None
    return value


def fit_decimal(value: Decimal, places: Decimal, whole_digits: int) -> Decimal | None:
    """``value`` rounded to ``places`` (a column's smallest step); None when it is not
    finite or has more than ``whole_digits`` digits before the point, before or after."""
    if not value.is_finite() or value.adjusted() >= whole_digits:
        return None
    rounded = value.quantize(places, rounding=ROUND_HALF_EVEN)
    return rounded if rounded.adjusted() < whole_digits else None


def decimal_shape(field: models.DecimalField[Any, Any]) -> tuple[Decimal, int]:
    """A decimal column's smallest step and its digits before the point (:func:`fit_decimal`)."""
    places = field.decimal_places or 0
    return Decimal(1).scaleb(-places), (field.max_digits or 0) - places


@dataclass(frozen=True)
class _Column:
    """What :func:`fit` needs to know of a column."""

    is_field: bool
    max_length: int | None = None
    #: A decimal column: its smallest step, and how many digits it holds before the point.
    places: Decimal | None = None
    whole_digits: int = 0
    #: An integer column: its internal type, whose range depends on the database.
    integer: str | None = None

    @classmethod
    def of(cls, column: Any) -> _Column:
        if not isinstance(column, models.Field):
            return cls(is_field=False)
        if isinstance(column, models.DecimalField):
            places, whole_digits = decimal_shape(column)
            return cls(
                is_field=True,
                max_length=column.max_length,
                places=places,
                whole_digits=whole_digits,
            )
        integer = column.get_internal_type() if isinstance(column, models.IntegerField) else None
        return cls(is_field=True, max_length=column.max_length, integer=integer)


_COLUMNS: dict[tuple[type[models.Model], str], _Column] = {}


def merge_raw(stored: Any, received: Any) -> Any:
    """The stored payload with ``received``'s keys on top: newer keys win, none is dropped.

    Webhooks are partial and the label answer says other things than Get
    Order, so each adds what it knows; pruning callback receipts then loses
    nothing (``merchant_url``, coordinates, a webhook's ``products``).
    """
    merged = dict(stored) if isinstance(stored, dict) else {}
    merged.update(normalize_json(dict(received)))
    return merged


def normalize_json(value: Any) -> Any:
    """``value`` as it reads back from a JSONField (Decimals become JSON numbers).

    A parsed document (dicts with text keys, lists, text, integers, finite
    floats, booleans, ``None`` and ``Decimal``) is copied in one walk, each
    ``Decimal`` made what ``PayloadEncoder`` writes for it and reading it
    back gives; anything else takes the JSON round trip itself.
    """
    try:
        return _copied(value)
    except (_NotPlain, RecursionError):
        return json.loads(json.dumps(value, cls=PayloadEncoder))


class _NotPlain(Exception):
    """A value :func:`_copied` leaves to the JSON round trip."""


#: Integers past this many digits are not read back by ``json`` (``sys.int_info``): left to it.
_PLAIN_INT = 10**1000


def _copied(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        copy = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain
            # The leaves of most payloads, copied here rather than by a call each.
            kind = type(item)
            if kind is str or item is None or kind is bool:
                copy[key] = item
            elif kind is Decimal:
                copy[key] = decimal_as_stored(item)
            else:
                copy[key] = _copied(item)
        return copy
    if kind is list:
        return [_copied(item) for item in value]
    if kind is str or value is None or kind is bool:
        return value
    if kind is Decimal:
        return decimal_as_stored(value)
    if kind is int:
        if -_PLAIN_INT < value < _PLAIN_INT:
            return value
    elif kind is float and math.isfinite(value):
        return value
    raise _NotPlain


def lines_digest(lines: Sequence[LineDocument]) -> str:
    """A digest of ``lines`` as a document gave them: equal digests, equal rows written.

    Taken over the ``repr`` of every line's values and raw item, one C call
    for the whole list: for the types a parsed document holds (``dict``,
    ``list``, ``str``, ``int``, ``Decimal``, ``float``, ``bool``, ``None``)
    equal texts mean equal values, key order and ``Decimal`` spelling
    included. Anything it tells apart that would write the same rows
    (``1.50`` and ``1.5``, keys in another order) only costs one rewrite.
    """
    text = repr([(line.values, line.raw) for line in lines])
    # Lone surrogates are refused before parsing; surrogatepass keeps this total anyway.
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def sync_lines(
    order: Order,
    model: type[_Line],
    lines: Sequence[LineDocument],
    *,
    created: bool,
    writes: HeldWrites | None = None,
) -> bool:
    """Make the order's parcels (or products) equal ``lines``; True when rows changed.

    No query when the order's digest says the rows were written from these
    very lines; else at most three (read, delete, insert), whatever their
    count. Parcels whose digest is known and different are not read: they
    differ. Products are read to carry over what webhooks said shipped.
    ``created``: the order is new (its digests are set by the caller).
    ``writes``: a drain chunk's held writes, where new rows wait (``held.py``).
    """
    replaced = False
    if not created:
        attname = "parcels_digest" if model is Parcel else "products_digest"
        stored, digest = getattr(order, attname), lines_digest(lines)
        setattr(order, attname, digest)
        if stored == digest:
            return False
        if writes is not None:
            writes.lines_read()  # the rows read or deleted below include the held ones
        if stored and model is Parcel:
            Parcel.objects.filter(order=order).delete()
            created = replaced = True  # the old rows are gone: insert the new ones
    if created and writes is not None:
        if lines:
            writes.lines(model, order, lines)
        return bool(lines) or replaced
    wanted = [
        model(
            order=order,
            position=index,
            raw=normalize_json(line.raw),
            **{name: fit(model, name, value) for name, value in line.values.items()},
        )
        for index, line in enumerate(lines)
    ]
    if not created:
        manager = model.objects.filter(order=order)
        existing = list(manager.order_by("position"))
        if issubclass(model, Product):
            # New lines keep what webhooks said shipped, and the items only webhooks listed.
            wanted += keep_shipped(existing, wanted)
        if [_line_key(row) for row in existing] == [_line_key(row) for row in wanted]:
            return False
        manager.delete()
    elif not wanted:
        return replaced
    statements.insert_rows(wanted, using=router.db_for_write(model))
    return True


def _line_key(row: Parcel | Product) -> tuple[Any, ...]:
    return tuple(
        getattr(row, f.attname) for f in row._meta.concrete_fields if f.name not in ("id", "order")
    )
