"""What a callback receipt stores and how: the dedupe key and the one-INSERT store.

A callback is stored before anything else happens to it (dj-stripe's
save-first webhook log): the view calls :func:`store_receipt` and only then
authenticates the content and processes it.
"""

from __future__ import annotations

import hashlib

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper

from ..models import CallbackReceipt
from ..utils import column_name

#: How much of a too-large body is kept, so staff can see what it was.
TRUNCATED_KEEP_BYTES = 64 * 1024


def dedupe_key(body: bytes) -> str:
    """The key under which identical bodies are recognised as duplicates."""
    return hashlib.sha256(body).hexdigest()


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
