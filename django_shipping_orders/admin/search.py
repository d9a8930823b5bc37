"""The order list's search box: scanned barcodes and pasted lists of references first.

A clerk scans a parcel label or types a reference; a list of references is
pasted from an e-mail. So the search tries, in order, stopping at the first
that finds something:

1. **exact**: each word (split on spaces, commas and semicolons) against the
   provider's reference, the retailer reference, the courier's tracking
   number and the parcels' label numbers (all indexed);
2. **prefix**: words of three characters or more as the start of the same
   fields (PostgreSQL has a pattern index for each, MySQL and MariaDB use the
   plain one; SQLite reads the table, which is fast enough at its sizes);
3. **words**: every word must be in the receiver's name or e-mail address,
   or be the postcode (PostgreSQL answers from trigram indexes, see
   :mod:`django_shipping_orders.trigram`; other databases read the table).

Exact and prefix matches are looked up with the words as typed and in upper
case, since references are upper case and scanners are not always; an exact
number also finds the retailer's ``#1011``. Characters nobody means to search
for (NUL, a byte order mark, zero-width spaces, soft hyphens) are dropped
first: they come with pasted text and scanners.
"""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet

from ..models import Order, Parcel

#: The fields a reference can be in (each indexed).
REFERENCE_FIELDS = ("reference", "retailer_reference", "courier_job_id")
#: Most words of one search (a pasted list longer than this is cut).
MAX_TERMS = 200
#: Orders one search finds, at most (a list, not a report).
MAX_HITS = 1000
_SPLIT = re.compile(r"[\s,;]+")
_INVISIBLE = re.compile("[\x00\u00ad\u200b-\u200d\u2060\ufeff]")


def clean(search: str) -> str:
    """``search`` without NUL, byte order marks, zero-width characters and soft hyphens."""
    return _INVISIBLE.sub("", search or "")


def terms(search: str) -> list[str]:
    """The words of ``search``, in order, without repeats."""
    words = [word for word in _SPLIT.split(clean(search)) if word]
    return list(dict.fromkeys(words))[:MAX_TERMS]


def _variants(words: list[str]) -> list[str]:
    return list(dict.fromkeys([*words, *(word.upper() for word in words)]))


def _found(queryset: QuerySet[Order], orders: Q, parcels: Q) -> QuerySet[Order] | None:
    """Orders of ``queryset`` matching ``orders``, or with a parcel matching ``parcels``.

    One statement (a UNION of two index lookups) finds their ids; an OR with a
    subquery on the parcels would make the database read every order.
    """
    by_order = queryset.filter(orders).order_by().values_list("pk", flat=True)
    # Parcels of orders outside ``queryset`` (the list's filters) drop out in the last step.
    by_parcel = Parcel.objects.filter(parcels).order_by().values_list("order_id", flat=True)
    ids = list(by_order.union(by_parcel)[:MAX_HITS])
    return queryset.filter(pk__in=ids) if ids else None


def exact(queryset: QuerySet[Order], words: list[str]) -> QuerySet[Order] | None:
    """Orders with any of ``words`` as a reference or a parcel label number, or None."""
    if not words:
        return None
    values = _variants(words)
    # A shop's order number is often stored as "#1011" and typed as "1011".
    values += [f"#{word}" for word in words if word.isdigit()]
    orders = Q()
    for field in REFERENCE_FIELDS:
        orders |= Q(**{f"{field}__in": values})
    return _found(queryset, orders, Q(label_number__in=values))


def prefix(queryset: QuerySet[Order], words: list[str]) -> QuerySet[Order] | None:
    """Orders with a reference starting with any of ``words`` (three characters or more), or None."""
    values = _variants([word for word in words if len(word) >= 3])
    if not values:
        return None
    orders = Q()
    parcels = Q()
    for value in values:
        parcels |= Q(label_number__startswith=value)
        for field in REFERENCE_FIELDS:
            orders |= Q(**{f"{field}__startswith": value})
    return _found(queryset, orders, parcels)


def words(queryset: QuerySet[Order], terms: list[str]) -> QuerySet[Order]:
    """Orders whose receiver's name or e-mail contains every word, or whose postcode is one."""
    for term in terms:
        queryset = queryset.filter(
            Q(receiver_name__icontains=term)
            | Q(user_email__icontains=term)
            | Q(delivery_postcode=term)
        )
    return queryset
