"""What a callback receipt stores and how: the dedupe key and the one-INSERT store.

A callback is stored before anything else happens to it (dj-stripe's
save-first webhook log): the view calls :func:`store_receipt` and only then
authenticates the content and processes it.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper

from ..models import CallbackReceipt
from ..utils import column_name

#: How much of a too-large body is kept, so staff can see what it was.
TRUNCATED_KEEP_BYTES = 64 * 1024


def dedupe_key(body: bytes) -> str:
    """The key under which identical bodies are recognised as duplicates.

    The key of a body that cannot be read as an order document; a readable
    one is stored under :func:`content_key` instead.
    """
    return hashlib.sha256(body).hexdigest()


def content_key(payload: Any) -> str:
    """The key of a parsed body's content: equal for the same JSON written in other bytes.

    A provider that sends a callback again may encode it again: keys in
    another order, other spacing, ``\\u00e9`` for ``é``, a key repeated (the
    last one counts, as when it is read). Without times in the body, such a
    resend is dated by its arrival and would pass for news: under this key
    it is the duplicate it is. Each number is kept as the parser reads it
    (``1.50`` and ``1.5`` stay apart, as do ``2`` and ``2.0``; ``1e2`` and
    ``1E+2`` read alike): what differs in any way a reader could see is not
    a duplicate. A ``Decimal`` is written as text
    after a NUL, which no stored text holds (``bounded`` refuses it), so it
    never meets a string.
    """
    text = json.dumps(
        payload,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_decimal_text,
    )
    # Lone surrogates are refused before this; surrogatepass keeps this total anyway.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _decimal_text(value: Any) -> str:
    if type(value) is Decimal:
        return f"\0{value}"
    raise TypeError(f"{type(value).__name__} is not JSON")


def store_receipt(receipt: CallbackReceipt) -> None:
    """Save a new receipt in one INSERT, as ``receipt.save()`` would, only cheaper.

    Storing the body is the part of every callback the provider waits on, and
    most of its cost was the ORM compiling the same INSERT each time. The
    statement is built once per database from the model's own fields; values
    still go through each field's ``pre_save`` / ``get_db_prep_save``.
    """
    connection = connections[router.db_for_write(CallbackReceipt)]
    if not connection.features.can_return_columns_from_insert:
        receipt.save()
        return
    params = [
        field.get_db_prep_save(field.pre_save(receipt, True), connection)
        for field in _RECEIPT_FIELDS
    ]
    with connection.cursor() as cursor:
        cursor.execute(_receipt_insert_sql(connection), params)
        receipt.pk = cursor.fetchone()[0]
    receipt._state.adding = False
    receipt._state.db = connection.alias


_RECEIPT_FIELDS = [f for f in CallbackReceipt._meta.concrete_fields if not f.primary_key]
_INSERT_SQL: dict[str, str] = {}


def _receipt_insert_sql(connection: BaseDatabaseWrapper) -> str:
    if connection.alias not in _INSERT_SQL:
        quote = connection.ops.quote_name
        meta = CallbackReceipt._meta
        columns = ", ".join(
            quote(column_name(CallbackReceipt, field.name)) for field in _RECEIPT_FIELDS
        )
        values = ", ".join(["%s"] * len(_RECEIPT_FIELDS))
        _INSERT_SQL[connection.alias] = (
            f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({values}) "  # noqa: S608
            f"RETURNING {quote(column_name(CallbackReceipt, meta.pk.name))}"
        )
    return _INSERT_SQL[connection.alias]
