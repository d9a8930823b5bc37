"""Whether a fetched document would change nothing on its order, so only bookkeeping is written.

Most polls find nothing new. Comparing the provider's answer with the stored
payload, without serialising it, lets the engine skip ``apply_document`` and
write the bookkeeping for many such orders at once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..documents import DERIVED_FIELDS, OrderDocument
from ..models import Order, PayloadEncoder
from ..sync import fitted_fields, normalize_json

_ENCODER = PayloadEncoder()


def unchanged(order: Order, document: OrderDocument) -> bool:
    """True when every key of ``document``'s full payload is stored, as is, on ``order``.

    The stored payload is every document applied merged together
    (``sync.merge_raw``), and every mirrored field, parcel and product is read
    from those keys, so ``apply_document`` would change nothing: only the
    bookkeeping and the order clock move. The state and the columns the
    document sets from other keys than their own (``documents.DERIVED_FIELDS``)
    are compared too: a webhook may have moved the state, or set such a
    column from its other key, since that payload was stored.
    """
    stored = order.raw
    if not (document.is_full and document.state == order.state):
        return False
    if not (stored and isinstance(stored, dict)):
        return False
    if not all(key in stored and same_json(v, stored[key]) for key, v in document.raw.items()):
        return False
    # A column not read from one key of its own (the courier, from either of two keys) may
    # hold what a later document said under the other key: those columns are compared too.
    return all(
        getattr(order, name) == value for name, value in fitted_fields(document, DERIVED_FIELDS)
    )


def same_json(received: Any, stored: Any) -> bool:
    """``normalize_json(received) == stored``, without the JSON round trip of ``received``.

    ``received`` is parsed JSON (exact ``Decimal`` numbers), ``stored`` is what
    the ``JSONField`` read back; a ``Decimal`` compares as the number that
    ``PayloadEncoder`` would store for it, everything else as ``==`` would.
    """
    kind = type(received)
    if kind is dict:
        if type(stored) is not dict or len(received) != len(stored):
            return bool(stored == normalize_json(received))  # not the common case: the exact rule
        for key, value in received.items():
            if key not in stored or not same_json(value, stored[key]):
                return False
        return True
    if kind is list:
        if type(stored) is not list or len(received) != len(stored):
            return bool(stored == normalize_json(received))
        return all(same_json(a, b) for a, b in zip(received, stored, strict=True))
    if kind is Decimal:
        return bool(_ENCODER.default(received) == stored)  # the int or float it is stored as
    if kind is str or kind is bool or kind is int or received is None:
        return bool(received == stored)
    return bool(normalize_json(received) == stored)
