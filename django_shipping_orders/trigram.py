"""PostgreSQL trigram indexes for the admin's word search (receiver's name, e-mail address).

Django's ``icontains`` reads every row; on PostgreSQL a GIN index with
``gin_trgm_ops`` on the same ``UPPER(…)`` expression answers it instead (see
docs/benchmarks.md: 100 000 orders). The indexes are made after every
``migrate`` of this app, not in its migration, because they exist on
PostgreSQL only: ``CREATE EXTENSION IF NOT EXISTS pg_trgm`` (a trusted
extension: the database's owner may create it) and ``CREATE INDEX IF NOT
EXISTS``. Without the right to create the extension, a warning is logged and
the search works as before, only slower. Other databases: nothing is done.
"""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, connections, transaction

from .redaction import get_logger
from .utils import column_name

logger = get_logger("django_shipping_orders.trigram")

#: Index name -> the column of ``Order`` it serves.
INDEXES = {
    "shipping_order_receiver_trgm": "receiver_name",
    "shipping_order_email_trgm": "user_email",
}


def create_indexes(using: str = "default") -> list[str]:
    """Make the trigram indexes on database ``using`` if it is PostgreSQL; returns their names."""
    from .models import Order

    connection = connections[using]
    table = Order._meta.db_table
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        if table not in connection.introspection.table_names(cursor):
            return []  # this app is not migrated (yet) on this database
    quote = connection.ops.quote_name
    try:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            for name, field in INDEXES.items():
                column = quote(column_name(Order, field))
                # The expression Django's icontains uses, so the planner can match it.
                cursor.execute(
                    f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table)} "
                    f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
                )
    except DatabaseError as err:
        logger.warning(
            "No trigram indexes for the order search on database %r (%s): word searches "
            "of the admin read the whole table. A superuser can run CREATE EXTENSION pg_trgm.",
            using,
            err,
        )
        return []
    return list(INDEXES)


def after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """The ``post_migrate`` receiver (connected in ``apps.py``)."""
    create_indexes(using)
