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
    looks = connection.vendor in _LOOKING_VENDORS
    if looks:
        params += [receipt.account, receipt.dedupe_key, CallbackReceipt.Status.PROCESSED.value]
    with connection.cursor() as cursor:
        cursor.execute(_receipt_insert_sql(connection), params)
        row = cursor.fetchone()
    receipt.pk = row[0]
    if looks:
        receipt.looked_for_duplicate, receipt.duplicate_when_stored = True, row[1]
    receipt._state.adding = False
    receipt._state.db = connection.alias


_RECEIPT_FIELDS = [f for f in CallbackReceipt._meta.concrete_fields if not f.primary_key]
_INSERT_SQL: dict[str, str] = {}
#: Databases whose INSERT … RETURNING may hold a subquery on the same table: there the
#: INSERT also returns the first processed receipt with the same body. The new row is never
#: one (it is not processed), and a receipt processed after this statement has written its
#: order, which the lock then finds (see ``sync.locking.lock_order``).
_LOOKING_VENDORS = frozenset({"postgresql", "sqlite"})


def _receipt_insert_sql(connection: BaseDatabaseWrapper) -> str:
    if connection.alias not in _INSERT_SQL:
        quote = connection.ops.quote_name
        meta = CallbackReceipt._meta
        columns = ", ".join(
            quote(column_name(CallbackReceipt, field.name)) for field in _RECEIPT_FIELDS
        )
        values = ", ".join(["%s"] * len(_RECEIPT_FIELDS))
        table, pk = quote(meta.db_table), quote(column_name(CallbackReceipt, meta.pk.name))
        returning = pk
        if connection.vendor in _LOOKING_VENDORS:
            account, key, status = (
                quote(column_name(CallbackReceipt, name))
                for name in ("account", "dedupe_key", "status")
            )
            returning += (
                f", (SELECT earlier.{pk} FROM {table} earlier WHERE earlier.{account} = %s"  # noqa: S608
                f" AND earlier.{key} = %s AND earlier.{status} = %s"
                f" ORDER BY earlier.{pk} LIMIT 1)"
            )
        _INSERT_SQL[connection.alias] = (
            f"INSERT INTO {table} ({columns}) VALUES ({values}) "  # noqa: S608
            f"RETURNING {returning}"
        )
    return _INSERT_SQL[connection.alias]
