"""What shipped: a webhook's ``products`` recorded on the order's product lines.

Shippit's webhook lists the items of the shipment (``quantity``, ``sku``,
``title``, ``product_line_id``); the official plugins use it to mark which
items of a shop order shipped. Here it sets ``Product.quantity_shipped`` on
the matching line (by ``product_line_id``, else SKU and title, else SKU),
adds a line for an item the order did not list, and never replaces the
order's lines: those come from Get Order and the create and label answers.
Called by ``sync.apply_document`` with the order row locked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .documents import LineDocument

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


def _keys(values: Any) -> list[tuple[str, ...]]:
    """Match keys of a line, most specific first."""
    get = values.get if isinstance(values, dict) else lambda name: getattr(values, name, "")
    line_id, sku, title = (str(get(n) or "") for n in ("product_line_id", "sku", "title"))
    keys: list[tuple[str, ...]] = []
    if line_id:
        keys.append(("id", line_id))
    if sku and title:
        keys.append(("sku+title", sku, title))
    if sku:
        keys.append(("sku", sku))
    elif title:
        keys.append(("title", title))
    return keys


def _find(rows: Sequence[Product], values: Any, taken: set[int]) -> Product | None:
    for key in _keys(values):
        for index, row in enumerate(rows):
            if index not in taken and key in _keys(row):
                taken.add(index)
                return row
    return None


def keep_shipped(existing: Iterable[Product], wanted: Sequence[Product]) -> None:
    """Carry ``quantity_shipped`` from the stored lines to the lines replacing them."""
    stored = [row for row in existing if row.quantity_shipped is not None]
    taken: set[int] = set()
    for row in wanted:
        match = _find(stored, row, taken)
        if match is not None:
            row.quantity_shipped = match.quantity_shipped


def record_shipped(order: Order, lines: Sequence[LineDocument], result: Any) -> bool:
    """Set the shipped quantities of ``order``'s lines; True when a row changed.

    Appends a :class:`ShippedLine` per webhook line to ``result.shipped_products``.
    """
    from .models import Product

    rows = list(Product.objects.filter(order=order).order_by("position"))
    taken: set[int] = set()
    updated: list[Product] = []
    created: list[Product] = []
    for line in lines:
        quantity = line.values.get("quantity")
        row = _find(rows, line.values, taken)
        if row is None:
            row = Product(
                order=order,
                position=len(rows) + len(created),
                quantity_shipped=quantity,
                raw=dict(line.raw),
                **{
                    name: _fit(name, line.values[name])
                    for name in ("title", "sku", "product_line_id")
                    if name in line.values
                },
            )
            created.append(row)
        elif row.quantity_shipped != quantity:
            row.quantity_shipped = quantity
            updated.append(row)
        result.shipped_products.append(
            ShippedLine(
                title=row.title,
                sku=row.sku,
                product_line_id=row.product_line_id,
                quantity_shipped=quantity,
                quantity_ordered=row.quantity,
            )
        )
    if updated:
        Product.objects.bulk_update(updated, ["quantity_shipped"])
    if created:
        from .models import PayloadEncoder

        for row in created:
            # As a JSONField reads it back (Decimal as a JSON number), like sync's lines.
            row.raw = json.loads(json.dumps(row.raw, cls=PayloadEncoder))
        Product.objects.bulk_create(created)
    return bool(updated or created)


def _fit(name: str, value: Any) -> Any:
    from .models import Product

    max_length = getattr(Product._meta.get_field(name), "max_length", None)
    return value[:max_length] if isinstance(value, str) and max_length else value
