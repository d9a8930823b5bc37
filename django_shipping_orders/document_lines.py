"""Reading the lines of an order document (parcels, products), and the reader of any field.

:class:`FieldReader` runs one field's parser and turns what it refuses into
a warning or a ``DocumentError`` (``documents.parse_order_document`` uses it
for every field). :func:`read_lines` reads a list of lines: every line of a
body is checked, so its cost is per line on both roads (inline and the
drain). A value that already is what its parser would return (text, an
integer in range, a decimal that fits its column) is taken as it is;
anything else goes through its parser, which judges it and names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from . import values
from .exceptions import DocumentError, ValueOutOfRange
from .values import Parser

#: Most parcels, products or status entries one document may list: far above any
#: real order, and what keeps one callback from holding an order's row lock for long.
MAX_LINES = 1000


@dataclass(frozen=True)
class LineDocument:
    """One parcel or product line: typed values of the keys present, plus the raw item."""

    values: Mapping[str, Any]
    raw: Mapping[str, Any] = field(repr=False)


class FieldReader:
    """Reads the fields of one payload, collecting what could not be stored as warnings.

    An out-of-range number is always a warning (the field reads ``None``); a
    field of the wrong type is a ``DocumentError``, or a warning (the field
    is left out) when the parse is lenient.
    """

    def __init__(self, lenient: bool) -> None:
        self.lenient = lenient
        self.warnings: list[str] = []

    def read(self, parse: Parser, value: Any, name: str) -> Any:
        """The parsed value, ``None`` when out of range, ``SKIP`` when unreadable (lenient)."""
        try:
            return parse(value, name)
        except ValueOutOfRange as err:
            self.warnings.append(str(err))
            return None
        except DocumentError as err:
            self.refuse(err)
            return SKIP

    def refuse(self, err: DocumentError) -> None:
        """Raise ``err``, or note it when lenient."""
        if not self.lenient:
            raise err
        self.warnings.append(f"{err} Not stored, kept in raw.")


#: What :meth:`FieldReader.read` returns for a field to leave out.
SKIP: Final = object()


def read_lines(
    items: Any, name: str, parsers: Mapping[str, Parser], reader: FieldReader
) -> tuple[LineDocument, ...] | None:
    """The lines of list ``name``; ``None`` (not said) when a lenient read cannot use it.

    A line's values take the short road of :func:`_line_table` when they
    already are what their parser would return; any other value goes through
    its parser, which judges it and names the field when it refuses it.
    """
    try:
        listed = values.json_list(items, name)
        if len(listed) > MAX_LINES:
            raise DocumentError(
                f"Field {name!r} lists {len(listed)} entries; the limit is {MAX_LINES}.",
                field=name,
            )
    except DocumentError as err:
        reader.refuse(err)
        return None
    table = _line_table(parsers)
    result = []
    for index, item in enumerate(listed):
        if not isinstance(item, dict):
            where = f"{name}[{index}]"
            reader.refuse(
                DocumentError(f"Field {where!r} must be an object, got {item!r}.", field=where)
            )
            continue
        line: dict[str, Any] = {}
        for key, kind, parse, bound, places in table:
            if key not in item:
                continue
            value = item[key]
            # type(), not isinstance(): a bool is an int, and a str subclass is the parser's.
            if kind == _TEXT:
                if type(value) is str:
                    line[key] = value
                    continue
            elif kind == _INTEGER:
                if type(value) is int and -bound <= value < bound:
                    line[key] = value
                    continue
            elif kind == _DECIMAL:
                if type(value) is Decimal:
                    if value.is_finite() and -bound < value < bound:
                        # No more places than the column: the parser would give it back as is.
                        written = str(value)
                        if "E" not in written:
                            point = written.find(".")
                            if point < 0 or len(written) - point - 1 <= places:
                                line[key] = value
                                continue
                elif type(value) is int and -bound < value < bound:
                    line[key] = Decimal(value)
                    continue
            parsed = reader.read(parse, value, f"{name}[{index}].{key}")
            if parsed is not SKIP:
                line[key] = parsed
        result.append(LineDocument(values=line, raw=item))
    return tuple(result)


#: Kinds of line field with a short road in :func:`read_lines`.
_TEXT, _INTEGER, _DECIMAL, _OTHER = range(4)
#: A line table: per key, its kind, its parser, the bound of its numbers and a decimal's places.
_LineTable = tuple[tuple[str, int, Parser, Any, int], ...]
#: Per parser mapping (by identity, kept alive beside its items and its table): its line table.
_LINE_TABLES: dict[
    int, tuple[Mapping[str, Parser], tuple[tuple[str, Parser], ...], _LineTable]
] = {}


def _line_table(parsers: Mapping[str, Parser]) -> _LineTable:
    """What :func:`read_lines` knows of each parser, built once per mapping.

    Text is text already; an integer within ``values.INTEGER_RANGE`` (its
    bound: ``-2**31 <= n < 2**31``) is what ``values.integer`` returns; a
    ``Decimal`` (or an integer) under its column's limit with no more places
    than the column is what its ``DecimalParser`` returns. Every other value,
    and every parser of another kind, takes the parser.
    """
    found = _LINE_TABLES.get(id(parsers))
    items = tuple(parsers.items())
    if found is not None and found[0] is parsers and found[1] == items:
        return found[2]  # the same mapping, unchanged since its table was built
    table: list[tuple[str, int, Parser, Any, int]] = []
    for key, parse in items:
        if parse is values.text:
            table.append((key, _TEXT, parse, None, 0))
        elif parse is values.integer:
            low, high = values.INTEGER_RANGE
            assert low == -(high + 1)  # one bound serves both ends
            table.append((key, _INTEGER, parse, high + 1, 0))
        elif isinstance(parse, values.DecimalParser):
            limit = Decimal(10) ** (parse.max_digits - parse.decimal_places)
            table.append((key, _DECIMAL, parse, limit, parse.decimal_places))
        else:
            table.append((key, _OTHER, parse, None, 0))
    built = tuple(table)
    if len(_LINE_TABLES) < 64:  # a few module-level mappings; never one per call
        _LINE_TABLES[id(parsers)] = (parsers, items, built)
    return built
