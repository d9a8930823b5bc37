"""Hot statements built once per database: the few INSERT, UPDATE and SELECT of every callback.

The ORM compiles each query afresh, and on the callback path compiling cost
more than the database took to run it (bench/callbacks.py). These helpers
build a statement once per database (and per set of columns) from the
model's own fields, then only bind values. Only quoted names of the model's
own tables and columns are spliced into the SQL; every value is a parameter,
prepared by its field (``pre_save`` then ``get_db_prep_save``) as ``save()``
would, and rows read back go through the fields' converters as the ORM's
would. Model signals (``pre_save``/``post_save``) are not sent, as with
``bulk_create`` and ``update``; the app's own signals are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import DatabaseError, IntegrityError, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.sql.compiler import SQLCompiler

from . import binding

M = TypeVar("M", bound=models.Model)

#: Most distinct column sets kept per kind of statement; past it statements are built each time.
_CACHE_LIMIT = 256

_INSERTS: dict[
    tuple[str, type[models.Model], tuple[str, ...]],
    tuple[str, list[Callable[[models.Model], Any]]],
] = {}
_ROWS: dict[tuple[str, type[models.Model]], _Rows] = {}
#: Databases whose INSERT says what to do when a unique key is taken (``ON CONFLICT``).
_ON_CONFLICT_VENDORS = frozenset({"postgresql", "sqlite"})
_UPDATES: dict[
    tuple[str, type[models.Model], tuple[str, ...]],
    tuple[str, list[Callable[[models.Model], Any]]],
] = {}
_SELECTS: dict[tuple[str, str], _Select] = {}
#: The bare statements callers bind themselves (:func:`insert_sql`, :func:`update_sql`).
_INSERT_SQL: dict[tuple[str, type[models.Model]], tuple[str, list[models.Field[Any, Any]]]] = {}
_UPDATE_SQL: dict[tuple[str, type[models.Model], tuple[str, ...]], str] = {}
#: PostgreSQL: what a ``redoable`` UPDATE returns, so that its transaction commits without
#: waiting for the WAL flush (``synchronous_commit`` off for this transaction only).
_REDOABLE_RETURNING = " RETURNING set_config('synchronous_commit', 'off', true)"
_UPDATE_READERS: dict[
    tuple[str, type[models.Model], tuple[str, ...]], list[Callable[[models.Model], Any]]
] = {}


def insert(instance: models.Model, using: str, *, unless: Sequence[str] = ()) -> bool:
    """INSERT ``instance`` in one statement and set its primary key, as ``save()`` would.

    ``unless``: the columns of a unique constraint; when a row with the same
    values is already there, nothing is inserted and False is returned (no
    error, so the caller's transaction stays usable without a savepoint).
    PostgreSQL and SQLite say so in the statement (``ON CONFLICT … DO
    NOTHING``); elsewhere the INSERT runs in a savepoint and its
    ``IntegrityError`` is the answer. Where the database cannot return the new
    key from an INSERT (MySQL, MariaDB before 10.5), ``save(force_insert=True)``
    does it instead.
    """
    connection = connections[using]
    if unless and connection.vendor not in _ON_CONFLICT_VENDORS:
        try:
            with transaction.atomic(using=using, savepoint=True):
                insert(instance, using)
        except IntegrityError:
            return False
        return True
    if not connection.features.can_return_columns_from_insert:
        instance.save(force_insert=True, using=using)
        return True
    model = type(instance)
    key = (connection.alias, model, tuple(unless))
    built = _INSERTS.get(key)
    if built is None:
        quote = connection.ops.quote_name
        head, row, fields = _insert_parts(model, connection)
        conflict = ""
        if unless:
            targets = ", ".join(quote(_column(_concrete(model._meta.get_field(n)))) for n in unless)
            conflict = f"ON CONFLICT ({targets}) DO NOTHING "
        sql = f"{head}{row} {conflict}RETURNING {quote(_pk_column(model))}"
        built = _INSERTS[key] = (sql, binding.readers(fields, connection))
    sql, readers = built
    params = [read(instance) for read in readers]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    instance.pk = row[0]
    instance._state.adding = False
    instance._state.db = connection.alias
    return True


def insert_rows(instances: Sequence[models.Model], using: str, *, returning: bool = False) -> None:
    """INSERT ``instances`` (all of one model) in as few statements as the database allows.

    As ``bulk_create``: without ``returning``, for rows nobody refers to in
    the same transaction (an order's parcels and products); with it, each
    instance gets its new key from the statement's ``RETURNING``, in the order
    of the rows, as ``bulk_create`` takes them. ``returning`` needs a database
    that returns rows from a bulk insert (``can_return_rows_from_bulk_insert``).
    """
    if not instances:
        return
    connection = connections[using]
    if returning and not connection.features.can_return_rows_from_bulk_insert:
        raise ValueError(f"{connection.alias!r} cannot return the keys of a bulk insert.")
    model = type(instances[0])
    key = (connection.alias, model)
    built = _ROWS.get(key)
    if built is None:
        head, row, fields = _insert_parts(model, connection)
        built = _ROWS[key] = _Rows(head, row, fields, binding.readers(fields, connection))
    tail = f" RETURNING {connection.ops.quote_name(_pk_column(model))}" if returning else ""
    # As bulk_create: as many rows per statement as the database takes parameters for.
    batch = max(1, connection.ops.bulk_batch_size(built.fields, list(instances)))
    with connection.cursor() as cursor:
        for start in range(0, len(instances), batch):
            rows = instances[start : start + batch]
            params = [read(instance) for instance in rows for read in built.readers]
            cursor.execute(built.head + ", ".join([built.row] * len(rows)) + tail, params)
            if returning:
                keys = cursor.fetchall()
                if len(keys) != len(rows):
                    raise DatabaseError(f"INSERT returned {len(keys)} keys for {len(rows)} rows.")
                for instance, (pk,) in zip(rows, keys, strict=True):
                    instance.pk = pk
                    instance._state.adding = False
                    instance._state.db = connection.alias


@dataclass(frozen=True)
class _Rows:
    head: str
    row: str
    fields: list[models.Field[Any, Any]]
    readers: list[Callable[[models.Model], Any]]


def update(
    instance: models.Model,
    names: Sequence[str],
    using: str,
    *,
    expect: Mapping[str, Any] | None = None,
    redoable: bool = False,
) -> int:
    """UPDATE the columns ``names`` of ``instance``'s row, as ``save(update_fields=names)``.

    Auto-now fields among ``names`` get the current time (``pre_save``).
    ``expect``: column values the row must still have (raw, as bound) for the
    UPDATE to match it: an optimistic check in the same statement. Returns
    the number of rows matched. ``redoable``: see :func:`update_sql`.
    """
    connection = connections[using]
    model = type(instance)
    checked = tuple(expect or ())
    key = (connection.alias, model, (*names, "|", *checked, "|", str(redoable)))
    built = _UPDATES.get(key)
    if built is None:
        sql = _update_sql(model, names, checked, connection, redoable=redoable)
        built = (sql, _update_readers(model, names, connection))
        if len(_UPDATES) < _CACHE_LIMIT:
            _UPDATES[key] = built
    sql, readers = built
    params = [read(instance) for read in readers]
    params.append(instance.pk)
    params += [expect[name] for name in checked] if expect else []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def own_transaction(using: str) -> bool:
    """True inside an atomic block that is the outermost: its commit is the caller's own.

    A ``redoable`` statement changes how the whole transaction commits, so it
    is only meant for a transaction the app opened itself, not for one a shop
    wraps around the app's call. Every nested block leaves an entry in
    ``savepoint_ids`` (``None`` when it made no savepoint); the outermost leaves none.
    """
    connection = connections[using]
    return connection.in_atomic_block and not connection.savepoint_ids


def update_params(
    instances: Sequence[models.Model], names: Sequence[str], using: str
) -> list[list[Any]]:
    """Per instance (all of one model), what :func:`update_sql` binds: its columns ``names``
    prepared as :func:`update` prepares them, then its key."""
    if not instances:
        return []
    readers = _update_readers(type(instances[0]), names, connections[using])
    return [[*(read(instance) for read in readers), instance.pk] for instance in instances]


def _update_readers(
    model: type[models.Model], names: Sequence[str], connection: BaseDatabaseWrapper
) -> list[Callable[[models.Model], Any]]:
    """What an UPDATE of the columns ``names`` binds, per column (:func:`binding.readers`)."""
    key = (connection.alias, model, tuple(names))
    readers = _UPDATE_READERS.get(key)
    if readers is None:
        fields = [_concrete(model._meta.get_field(name)) for name in names]
        readers = binding.readers(fields, connection, add=False)
        if len(_UPDATE_READERS) < _CACHE_LIMIT:
            _UPDATE_READERS[key] = readers
    return readers


def insert_sql(model: type[models.Model], using: str) -> tuple[str, list[models.Field[Any, Any]]]:
    """The one-row INSERT of ``model``'s columns but its key, and their fields, for a caller
    that binds the values itself (``executemany`` over a drain chunk's rows)."""
    connection = connections[using]
    key = (connection.alias, model)
    built = _INSERT_SQL.get(key)
    if built is None:
        head, row, fields = _insert_parts(model, connection)
        built = _INSERT_SQL[key] = (head + row, fields)
    return built


def update_sql(
    model: type[models.Model], names: Sequence[str], using: str, *, redoable: bool = False
) -> str:
    """The UPDATE of the columns ``names`` of one row by its key (values, then the key).

    ``redoable``: the transaction that runs it only does work that can be
    redone from a record already committed and flushed (a stored callback
    receipt, which the drain takes again while it is still ``received``). On
    PostgreSQL its commit then returns without waiting for the WAL flush: a
    crash can lose that transaction as a whole, never the record, so nothing is
    lost and the callback path commits to disk once, as a plain view does.
    Other databases ignore it (MariaDB's flush is a server-wide setting; SQLite's
    a connection's pragma).
    """
    connection = connections[using]
    key = (connection.alias, model, (*names, "|", str(redoable)))
    sql = _UPDATE_SQL.get(key)
    if sql is None:
        sql = _update_sql(model, names, (), connection, redoable=redoable)
        if len(_UPDATE_SQL) < _CACHE_LIMIT:
            _UPDATE_SQL[key] = sql
    return sql


def _insert_parts(
    model: type[models.Model], connection: BaseDatabaseWrapper
) -> tuple[str, str, list[models.Field[Any, Any]]]:
    """``INSERT INTO table (columns) VALUES ``, one row's placeholders, and the fields."""
    meta = model._meta
    quote = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    columns = ", ".join(quote(_column(f)) for f in fields)
    head = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "  # noqa: S608
    return head, "(" + ", ".join(["%s"] * len(fields)) + ")", fields


def _update_sql(
    model: type[models.Model],
    names: Sequence[str],
    checked: Sequence[str],
    connection: BaseDatabaseWrapper,
    *,
    redoable: bool = False,
) -> str:
    """UPDATE of ``names`` by the key, and only while the ``checked`` columns hold their values."""
    meta = model._meta
    quote = connection.ops.quote_name
    assignments = ", ".join(
        f"{quote(_column(_concrete(meta.get_field(name))))} = %s" for name in names
    )
    conditions = "".join(
        f" AND {quote(_column(_concrete(meta.get_field(name))))} = %s" for name in checked
    )
    # Folded into the statement, not a SET LOCAL of its own: no extra round trip.
    returning = _REDOABLE_RETURNING if redoable and connection.vendor == "postgresql" else ""
    return (
        f"UPDATE {quote(meta.db_table)} SET {assignments} "  # noqa: S608
        f"WHERE {quote(_pk_column(model))} = %s{conditions}{returning}"
    )


def _concrete(field: Any) -> models.Field[Any, Any]:
    if not isinstance(field, models.Field) or not field.concrete:
        raise TypeError(f"{field!r} is not a column of its model")
    return field


def _column(field: models.Field[Any, Any]) -> str:
    assert field.column is not None  # a concrete field has a column
    return field.column


def _pk_column(model: type[models.Model]) -> str:
    assert model._meta.pk is not None
    return _column(model._meta.pk)


@dataclass(frozen=True)
class Param:
    """A stand-in value in a queryset given to :func:`select_first`, bound at each call.

    The stand-in must be a value no caller ever binds (a string with a NUL
    character, a negative key) so that it is found among the compiled
    query's parameters.
    """

    name: str
    stand_in: Any


@dataclass
class _Select:
    compiler: SQLCompiler
    sql: str
    #: Per parameter of the compiled SQL: the name bound at each call, or None (a constant).
    names: list[str | None]
    constants: list[Any]
    model: type[models.Model]
    attnames: list[str]
    model_columns: slice
    annotations: dict[str, int]
    converters: dict[int, tuple[list[Any], Any]]


def select_first(
    name: str,
    build: Callable[[], tuple[models.QuerySet[M], Sequence[Param]]],
    values: Mapping[str, Any],
    using: str,
) -> tuple[M, dict[str, Any]] | None:
    """The first row of the queryset ``build()`` returns, with its annotations; or None.

    ``build`` is called once per database to compile the query (inside the
    caller's transaction, as ``select_for_update`` requires): it returns the
    queryset, built with the stand-in values of its :class:`Param` list, and
    that list; ``values`` are bound in their place at each call. ``name``
    keys the compiled statement. Give the queryset no ordering and a ``[:1]``
    slice: an ORDER BY can lead the planner away from the unique key.
    """
    connection = connections[using]
    key = (connection.alias, name)
    select = _SELECTS.get(key)
    if select is None:
        select = _SELECTS[key] = _compile(build, connection)
    params = [
        values[n] if n is not None else constant
        for n, constant in zip(select.names, select.constants, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(select.sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    if select.converters:
        row = next(iter(select.compiler.apply_converters([row], select.converters)))
    instance = select.model.from_db(
        connection.alias, select.attnames, tuple(row[select.model_columns])
    )
    extra = {n: row[position] for n, position in select.annotations.items()}
    return instance, extra  # type: ignore[return-value]


def _compile(
    build: Callable[[], tuple[models.QuerySet[Any], Sequence[Param]]],
    connection: BaseDatabaseWrapper,
) -> _Select:
    queryset, stand_in_params = build()
    stand_ins = {p.stand_in: p.name for p in stand_in_params}
    compiler = queryset.query.get_compiler(connection=connection)
    sql, params = compiler.as_sql()
    names = [stand_ins.get(p) if isinstance(p, str | int) else None for p in params]
    klass_info = compiler.klass_info or {}
    fields = klass_info.get("select_fields", [])
    columns = slice(fields[0], fields[-1] + 1)
    attnames = [s[0].target.attname for s in compiler.select[columns]]
    return _Select(
        compiler=compiler,
        sql=sql,
        names=names,
        constants=list(params),
        model=queryset.model,
        attnames=attnames,
        model_columns=columns,
        annotations=dict(compiler.annotation_col_map or {}),
        converters=compiler.get_converters([s[0] for s in compiler.select[: compiler.col_count]]),
    )
