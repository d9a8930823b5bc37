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

from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.sql.compiler import SQLCompiler

M = TypeVar("M", bound=models.Model)

#: Most distinct column sets kept per kind of statement; past it statements are built each time.
_CACHE_LIMIT = 256

_INSERTS: dict[tuple[str, type[models.Model]], tuple[str, list[models.Field[Any, Any]]]] = {}
_UPDATES: dict[
    tuple[str, type[models.Model], tuple[str, ...]], tuple[str, list[models.Field[Any, Any]]]
] = {}
_SELECTS: dict[tuple[str, str], _Select] = {}


def insert(instance: models.Model, using: str) -> None:
    """INSERT ``instance`` in one statement and set its primary key, as ``save()`` would.

    Where the database cannot return the new key from an INSERT (MySQL,
    MariaDB before 10.5), ``save(force_insert=True)`` does it instead.
    """
    connection = connections[using]
    if not connection.features.can_return_columns_from_insert:
        instance.save(force_insert=True, using=using)
        return
    model = type(instance)
    key = (connection.alias, model)
    built = _INSERTS.get(key)
    if built is None:
        meta = model._meta
        quote = connection.ops.quote_name
        fields = [f for f in meta.concrete_fields if not f.primary_key]
        columns = ", ".join(quote(_column(f)) for f in fields)
        values = ", ".join(["%s"] * len(fields))
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({values}) "  # noqa: S608
            f"RETURNING {quote(_pk_column(model))}"
        )
        built = _INSERTS[key] = (sql, fields)
    sql, fields = built
    params = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    instance.pk = row[0]
    instance._state.adding = False
    instance._state.db = connection.alias


def update(instance: models.Model, names: Sequence[str], using: str) -> int:
    """UPDATE the columns ``names`` of ``instance``'s row, as ``save(update_fields=names)``.

    Auto-now fields among ``names`` get the current time (``pre_save``).
    Returns the number of rows matched.
    """
    connection = connections[using]
    model = type(instance)
    key = (connection.alias, model, tuple(names))
    built = _UPDATES.get(key)
    if built is None:
        meta = model._meta
        quote = connection.ops.quote_name
        fields = [_concrete(meta.get_field(name)) for name in names]
        assignments = ", ".join(f"{quote(_column(f))} = %s" for f in fields)
        sql = (
            f"UPDATE {quote(meta.db_table)} SET {assignments} "  # noqa: S608
            f"WHERE {quote(_pk_column(model))} = %s"
        )
        built = (sql, fields)
        if len(_UPDATES) < _CACHE_LIMIT:
            _UPDATES[key] = built
    sql, fields = built
    params = [f.get_db_prep_save(f.pre_save(instance, False), connection) for f in fields]
    params.append(instance.pk)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


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
