"""The writes of a drain chunk, held back and sent together: one statement per table.

The deferred drain applies up to fifty receipts in one transaction
(``callbacks.chunks``). Written as each receipt is applied, they cost a
statement per order, per state event, per receipt outcome and per kind of
line, and on a local database a statement's time is mostly Python (Django's
cursor wrappers, a model per line, the ORM compiling ``bulk_create``).
:class:`HeldWrites` collects them and sends each kind with one
``executemany`` when the chunk has been applied: the new orders' INSERT (one
statement returning every new id where the database can, one per order
elsewhere), the orders' UPDATE (one row per order, with its last values,
however many receipts of the chunk it had), the state events' INSERT, the
parcels' and the products' INSERT, and the receipts' outcomes (one
statement per set of columns, one or two). What refers to a new order (its
lines, its events, a receipt's ``order_id``) takes its id when written.

Nothing held is ever read inside the chunk: the order rows are locked and
kept in memory, the duplicates of the chunk's bodies are found before it is
applied, and the held new orders and lines are written
(:meth:`HeldWrites.lines_read`) before any line is read or deleted.

Any failure of these statements fails the chunk as any other error does: it
is rolled back and its receipts are applied one at a time, each under its own
guard, with the writes of the one-receipt path.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connections, models
from django.db.backends.base.operations import BaseDatabaseOperations

from .. import statements
from ..documents import LineDocument
from ..models import CallbackReceipt, Order, OrderEvent
from .lines import decimal_shape, fit, fit_decimal


class HeldWrites:
    """A chunk's writes, held until :meth:`flush`; see the module docstring."""

    def __init__(self, using: str) -> None:
        self.using = using
        self._new: list[Order] = []
        self._orders: dict[int, tuple[Order, set[str]]] = {}
        self._events: list[OrderEvent] = []
        self._receipts: dict[tuple[str, ...], dict[int, tuple[CallbackReceipt, Order | None]]] = {}
        self._lines: dict[type[models.Model], list[tuple[Order, list[Any]]]] = {}
        #: Whether every receipt held so far is redoable (see :meth:`receipt`).
        self._redoable = True

    def new_order(self, order: Order) -> None:
        """Insert ``order`` (with its values at :meth:`flush`); its id is set then.

        Until then ``order.pk`` is None: what refers to it (its lines, its
        events, a receipt's ``order_id``) is resolved when written.
        """
        self._new.append(order)

    def order(self, order: Order, names: Sequence[str]) -> None:
        """Write the columns ``names`` of ``order`` (its values at :meth:`flush`)."""
        if order.pk is None:
            return  # not inserted yet: the INSERT writes its values as they are then
        held = self._orders.get(id(order))
        if held is None:
            self._orders[id(order)] = (order, set(names))
        else:
            held[1].update(names)

    def event(self, event: OrderEvent) -> None:
        """Insert ``event`` (its primary key stays unset)."""
        self._events.append(event)

    def receipt(
        self,
        receipt: CallbackReceipt,
        names: Sequence[str],
        order: Order | None = None,
        *,
        redoable: bool = False,
    ) -> None:
        """Write the columns ``names`` of ``receipt`` (its values at :meth:`flush`).

        ``order``: the receipt's order, whose id it takes when written (a new one has none yet).
        ``redoable``: a crash that lost this write leaves the receipt for the drain to take
        again (see ``statements.update_sql``); the chunk commits without waiting for the
        flush only when every receipt of it is.
        """
        self._receipts.setdefault(tuple(names), {})[id(receipt)] = (receipt, order)
        self._redoable = self._redoable and redoable

    def lines(
        self, model: type[models.Model], order: Order, documents: Sequence[LineDocument]
    ) -> None:
        """Insert ``documents`` as ``model`` rows of ``order``, in order.

        The values are those ``sync.lines`` gives a new row: each made to fit
        its column, the raw line as the JSON field writes it, defaults for the rest.
        """
        connection = connections[self.using]
        plan = _line_plan(model, self.using)
        names = {column.name for column in plan}
        rows = self._lines.setdefault(model, [])
        for position, line in enumerate(documents):
            values = line.values
            unknown = values.keys() - names
            if unknown:
                raise TypeError(f"{model.__name__} has no field {sorted(unknown)[0]!r}")
            row: list[Any] = []
            for column in plan:
                name = column.name
                if name == "order":
                    row.append(None)  # the order's id, once it has one (``lines_read``)
                elif name == "position":
                    row.append(position)
                elif name == "raw":
                    # As the JSON field writes it: its encoder gives the text that
                    # ``normalize_json`` would have given and the field written again.
                    raw = line.raw
                    if column.encode is not None and type(raw) is dict:
                        row.append(column.encode(raw))
                    else:
                        row.append(column.field.get_db_prep_save(raw, connection))
                elif name not in values:
                    row.append(column.default)
                else:
                    value: Any = values[name]
                    if column.plain is not None and type(value) is column.plain:
                        # Text and integers bind as they are, made to fit as ``fit`` does.
                        plain: Any = value
                        if column.plain is str:
                            if column.max_length and len(plain) > column.max_length:
                                plain = plain[: column.max_length]
                        elif not column.low <= plain <= column.high:
                            plain = None
                        row.append(plain)
                    elif value is None:
                        row.append(None)
                    elif column.places is not None and type(value) is Decimal:
                        # As ``fit`` makes it, without looking the column up again;
                        # bound as it is where the database adapts no decimal.
                        value = fit_decimal(value, column.places, column.whole_digits)
                        if value is None:
                            row.append(None)
                        elif column.adapt_decimal:
                            adapt = connection.ops.adapt_decimalfield_value
                            row.append(adapt(value, *column.digits))  # type: ignore[misc]
                        else:
                            row.append(value)
                    else:
                        value = fit(model, name, value)  # type: ignore[arg-type]
                        if column.digits is not None and type(value) is Decimal:
                            # What the field would do once ``fit`` made the value finite.
                            adapt = connection.ops.adapt_decimalfield_value
                            row.append(adapt(value, *column.digits))
                        else:
                            row.append(column.field.get_db_prep_save(value, connection))
            rows.append((order, row))

    def lines_read(self) -> None:
        """Write the held new orders and lines now: the caller is about to read rows."""
        self._insert_orders()
        if not self._lines:
            return
        with connections[self.using].cursor() as cursor:
            for model, rows in self._lines.items():
                index = next(
                    i for i, c in enumerate(_line_plan(model, self.using)) if c.name == "order"
                )
                for order, row in rows:
                    row[index] = order.pk
                cursor.executemany(
                    statements.insert_sql(model, self.using)[0], [row for _, row in rows]
                )
        self._lines = {}

    def _insert_orders(self) -> None:
        """The held new orders in one INSERT where the database returns every new id, else one each."""
        if not self._new:
            return
        new, self._new = self._new, []
        if connections[self.using].features.can_return_rows_from_bulk_insert:
            statements.insert_rows(new, using=self.using, returning=True)
        else:
            for order in new:
                statements.insert(order, using=self.using)

    def flush(self) -> None:
        """Send every held write, one statement per table (per column set for receipts)."""
        connection = connections[self.using]
        self.lines_read()
        for event in self._events:
            event.order_id = event.order.pk  # a new order's id is known now
        for receipts in self._receipts.values():
            for receipt, order in receipts.values():
                if order is not None:
                    receipt.order_id = order.pk
        with connection.cursor() as cursor:
            if self._orders:
                names = tuple(sorted(set().union(*(held[1] for held in self._orders.values()))))
                rows = [order for order, _ in self._orders.values()]
                cursor.executemany(
                    statements.update_sql(Order, names, self.using),
                    statements.update_params(rows, names, self.using),
                )
            if self._events:
                sql, fields = statements.insert_sql(OrderEvent, self.using)
                cursor.executemany(
                    sql,
                    [
                        [f.get_db_prep_save(f.pre_save(event, True), connection) for f in fields]
                        for event in self._events
                    ],
                )
            for names, receipts in self._receipts.items():
                redoable = self._redoable and statements.own_transaction(self.using)
                cursor.executemany(
                    statements.update_sql(CallbackReceipt, names, self.using, redoable=redoable),
                    statements.update_params(
                        [receipt for receipt, _ in receipts.values()], names, self.using
                    ),
                )
        self._orders, self._events, self._receipts = {}, [], {}
        self._redoable = True


@dataclass(frozen=True)
class _Column:
    """How :meth:`HeldWrites.lines` fills one column of a new line."""

    field: models.Field[Any, Any]
    name: str
    #: The one Python type bound as it is (text or integer columns), else None.
    plain: type | None
    max_length: int | None
    #: An integer column's range on this database.
    low: int
    high: int
    #: A decimal column's digits and places.
    digits: tuple[int | None, int | None] | None
    #: The default, prepared for the database.
    default: Any
    #: A decimal column: its smallest step and its digits before the point (as ``fit``).
    places: Decimal | None = None
    whole_digits: int = 0
    #: Whether the database adapts decimals (``adapt_decimalfield_value``); none of ours does.
    adapt_decimal: bool = False
    #: A JSON column whose database binds the encoder's text (``json.dumps(value,
    #: cls=encoder)``, all but PostgreSQL): that encoder's ``encode``, built once.
    encode: Callable[[Any], str] | None = None


#: Per (database, model): the columns of a line, in the order of its INSERT.
_PLANS: dict[tuple[str, type[models.Model]], list[_Column]] = {}


def _line_plan(model: type[models.Model], using: str) -> list[_Column]:
    connection = connections[using]
    key = (connection.alias, model)
    plan = _PLANS.get(key)
    if plan is None:
        plan = []
        ops = type(connection.ops)
        adapt_decimal = (
            ops.adapt_decimalfield_value is not BaseDatabaseOperations.adapt_decimalfield_value
        )
        plain_json = ops.adapt_json_value is BaseDatabaseOperations.adapt_json_value
        for f in statements.insert_sql(model, using)[1]:
            plain: type | None = None
            if isinstance(f, models.CharField | models.TextField):
                plain = str
            elif isinstance(f, models.IntegerField) and not f.is_relation:
                plain = int
            low, high = -(2**63), 2**63 - 1
            if plain is int:
                found = connection.ops.integer_field_range(f.get_internal_type())
                low = found[0] if found[0] is not None else -(2**200)
                high = found[1] if found[1] is not None else 2**200
            default = f.get_db_prep_save(f.get_default(), connection)
            max_length = f.max_length if plain is str else None
            digits, places, whole_digits, encode = None, None, 0, None
            if isinstance(f, models.DecimalField):
                digits = (f.max_digits, f.decimal_places)
                places, whole_digits = decimal_shape(f)
            if type(f) is models.JSONField and plain_json:
                # json.dumps(value, cls=encoder) is encoder().encode(value): its defaults.
                encode = (f.encoder or json.JSONEncoder)().encode
            plan.append(
                _Column(
                    f,
                    f.name,
                    plain,
                    max_length,
                    low,
                    high,
                    digits,
                    default,
                    places=places,
                    whole_digits=whole_digits,
                    adapt_decimal=adapt_decimal,
                    encode=encode,
                )
            )
        _PLANS[key] = plan
    return plan
