"""What shipped: a webhook's ``products`` recorded on the order's product lines.

Shippit's webhook lists the items of the shipment (``quantity``, ``sku``,
``title``, ``product_line_id``); the official plugins use it to mark which
items of a shop order shipped. Here it sets ``Product.quantity_shipped`` on
the matching line and never replaces the order's lines: those come from Get
Order and the create and label answers.

Matching, in linear time whatever the number of lines (dictionaries, no
pairwise comparison; the row lock is held meanwhile):

1. exact first, for every shipped item: the same ``product_line_id``, else
   the same SKU and title;
2. then the items left: a line of the same SKU that nothing matched yet,
   else a line with the same title, so a title spelled a little differently
   ("Red tee (size M)") takes the line left over, not one matched exactly;
3. an item the order did not list gets a line of its own (no ordered
   quantity), which later full documents keep.

Items matching the same line add up (one item shipped in two parcels, 1 + 2
of 3 is 3 of 3); a negative quantity counts as none shipped. Called by
``sync.apply_document`` with the order row locked.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .documents import LineDocument
from .values import INTEGER_RANGE

if TYPE_CHECKING:
    from .models import Order, Product


@dataclass(frozen=True)
class ShippedLine:
    """One line of what shipped, as the signal receivers get it (``SyncResult.shipped_products``)."""

    title: str
    sku: str
    product_line_id: str
    quantity_shipped: int | None
    #: What the order's line asked for; None when the order did not list the item.
    quantity_ordered: int | None

    @property
    def partial(self) -> bool:
        """True when fewer shipped than were ordered."""
        return (
            self.quantity_shipped is not None
            and self.quantity_ordered is not None
            and self.quantity_shipped < self.quantity_ordered
        )


def _identity(values: Any) -> tuple[str, str, str]:
    """(product_line_id, sku, title) of a row or of a parsed line's values, stripped."""
    if isinstance(values, dict):
        get: Callable[[str], Any] = values.get
    else:

        def get(name: str) -> Any:
            return getattr(values, name, "")

    line_id, sku, title = (str(get(n) or "").strip() for n in ("product_line_id", "sku", "title"))
    return line_id, sku, title


class _Lines:
    """The order's lines indexed by each match key; hands out lines nothing matched first."""

    def __init__(self, rows: Iterable[Product], *, share: bool = True) -> None:
        self.rows = list(rows)
        #: Whether an item may land on a line something matched already (and add up).
        self.share = share
        self.taken: set[int] = set()
        self._keys: list[dict[Any, deque[int]]] = [{}, {}, {}, {}]  # id, sku+title, sku, title
        for index, row in enumerate(self.rows):
            line_id, sku, title = _identity(row)
            for table, key in zip(self._keys, (line_id, (sku, title), sku, title), strict=True):
                if key and key != ("", ""):
                    table.setdefault(key, deque()).append(index)

    def _pick(self, table: int, key: Any) -> Product | None:
        """A line under ``key``: one nothing matched yet, else the first (to add up on)."""
        found = self._keys[table].get(key) if key and key != ("", "") else None
        if not found:
            return None
        first = found[0]
        while found and found[0] in self.taken:
            found.popleft()  # each line leaves each queue once: linear overall
        if not found and not self.share:
            return None
        index = found.popleft() if found else first
        self.taken.add(index)
        if not found:
            found.append(first)  # keep the queue non-empty: later items add up on the first
        return self.rows[index]

    def exact(self, values: Any) -> Product | None:
        line_id, sku, title = _identity(values)
        return self._pick(0, line_id) or (self._pick(1, (sku, title)) if sku and title else None)

    def loose(self, values: Any) -> Product | None:
        _, sku, title = _identity(values)
        return self._pick(2, sku) or self._pick(3, title)


def _quantity(value: Any) -> int | None:
    return None if value is None else max(0, int(value))


def record_shipped(order: Order, lines: Sequence[LineDocument], result: Any) -> bool:
    """Set the shipped quantities of ``order``'s lines; True when a row changed.

    Appends a :class:`ShippedLine` per line the webhook touched to
    ``result.shipped_products``.
    """
    from .models import PayloadEncoder, Product

    index = _Lines(Product.objects.filter(order=order).order_by("position"))
    matched: list[Product | None] = [index.exact(line.values) for line in lines]
    for number, line in enumerate(lines):
        if matched[number] is None:
            matched[number] = index.loose(line.values)

    totals: dict[int, int | None] = {}  # id(row) -> quantity shipped, in order of mention
    rows: dict[int, Product] = {}
    new_items: dict[tuple[str, str, str], Product] = {}
    for line, row in zip(lines, matched, strict=True):
        if row is None:
            identity = _identity(line.values)
            row = new_items.get(identity)
            if row is None:
                row = new_items[identity] = Product(
                    order=order,
                    position=len(index.rows) + len(new_items),
                    raw=_as_stored(line.raw, PayloadEncoder),
                    **{
                        name: _fit(name, line.values[name])
                        for name in ("title", "sku", "product_line_id")
                        if name in line.values
                    },
                )
        quantity = _quantity(line.values.get("quantity"))
        key = id(row)
        rows[key] = row
        known = totals.get(key)
        if quantity is not None:
            known = min((known or 0) + quantity, INTEGER_RANGE[1])
        totals[key] = known

    updated: list[Product] = []
    for key, total in totals.items():
        row = rows[key]
        if row.pk is None:
            row.quantity_shipped = total
        elif total is not None and row.quantity_shipped != total:
            row.quantity_shipped = total
            updated.append(row)
        result.shipped_products.append(
            ShippedLine(
                title=row.title,
                sku=row.sku,
                product_line_id=row.product_line_id,
                quantity_shipped=row.quantity_shipped,
                quantity_ordered=row.quantity,
            )
        )
    if updated:
        Product.objects.bulk_update(updated, ["quantity_shipped"], batch_size=500)
    if new_items:
        Product.objects.bulk_create(list(new_items.values()))
    return bool(updated or new_items)


def keep_shipped(existing: Iterable[Product], wanted: Sequence[Product]) -> list[Product]:
    """Carry ``quantity_shipped`` from the stored lines to the lines replacing them.

    Returns the lines to add after ``wanted``: items a webhook said shipped
    that the order never listed (no ordered quantity), which a full document
    does not list either and must not make vanish.
    """
    from .models import Product

    stored = _Lines((row for row in existing if row.quantity_shipped is not None), share=False)
    matches = [stored.exact(row) for row in wanted]
    for number, row in enumerate(wanted):
        match = matches[number] or stored.loose(row)
        if match is not None:
            row.quantity_shipped = match.quantity_shipped
    kept: list[Product] = []
    for index, row in enumerate(stored.rows):
        if index not in stored.taken and row.quantity is None:
            kept.append(
                Product(
                    order_id=row.order_id,
                    position=len(wanted) + len(kept),
                    title=row.title,
                    sku=row.sku,
                    product_line_id=row.product_line_id,
                    quantity_shipped=row.quantity_shipped,
                    raw=row.raw,
                )
            )
    return kept


def _as_stored(raw: Any, encoder: type[Any]) -> Any:
    """``raw`` as a JSONField reads it back (Decimal as a JSON number), like sync's lines."""
    import json

    return json.loads(json.dumps(raw, cls=encoder))


def _fit(name: str, value: Any) -> Any:
    from .models import Product

    max_length = getattr(Product._meta.get_field(name), "max_length", None)
    return value[:max_length] if isinstance(value, str) and max_length else value
