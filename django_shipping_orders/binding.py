"""Binding a field's value as ``save()`` would, with fewer calls for the values that allow it.

``save()`` prepares every value through its field (``pre_save``, then
``get_db_prep_save``): for text, integers, booleans and NULL that gives the
value back unchanged, at the cost of a round of method calls per value,
which on the callback path was most of an INSERT's Python. :func:`readers`
gives, per field, a function that reads an instance's value to bind: as it
is when the field would give it back unchanged, else prepared by the field.
``statements`` binds every hot statement with them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.operations import BaseDatabaseOperations

#: Field classes whose ``get_db_prep_save`` gives back, unchanged, None and a value of these
#: types, on a database whose operations do not adapt integers: their values are bound as
#: they are, without the per-value round of method calls (most of an INSERT's cost).
_BOUND_AS_IS: dict[type[models.Field[Any, Any]], tuple[type, ...]] = {
    models.CharField: (str,),
    models.TextField: (str,),
    models.URLField: (str,),
    models.EmailField: (str,),
    models.SlugField: (str,),
    models.BooleanField: (bool,),
    models.IntegerField: (int,),
    models.PositiveIntegerField: (int,),
    models.SmallIntegerField: (int,),
    models.BigIntegerField: (int,),
    # Only None is bound as it is; a date or a number is prepared by its field.
    models.DateTimeField: (),
    models.DateField: (),
    models.DecimalField: (),
    models.UUIDField: (),
    models.ForeignKey: (),
}
_INTEGER_FIELDS = (models.IntegerField,)
#: Fields whose own ``pre_save`` only reads the attribute unless they are auto-now.
_AUTO_NOW_FIELDS = (models.DateField,)


def readers(
    fields: Sequence[models.Field[Any, Any]], connection: BaseDatabaseWrapper, add: bool = True
) -> list[Callable[[models.Model], Any]]:
    """Per field, a function giving the value to bind for an instance, as ``save()`` would.

    ``add``: for an INSERT (as ``pre_save``'s argument: auto-now-add fields).
    """
    ops_adapt_integers = (
        type(connection.ops).adapt_integerfield_value
        is not BaseDatabaseOperations.adapt_integerfield_value
    )
    return [_reader(field, connection, ops_adapt_integers, add) for field in fields]


def _reader(
    field: models.Field[Any, Any],
    connection: BaseDatabaseWrapper,
    ops_adapt_integers: bool,
    add: bool,
) -> Callable[[models.Model], Any]:
    prepare = field.get_db_prep_save
    kinds = _BOUND_AS_IS.get(type(field))
    reads_attribute = type(field).pre_save is models.Field.pre_save or (
        isinstance(field, _AUTO_NOW_FIELDS)
        and not (getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))
    )
    if (
        not reads_attribute
        or kinds is None
        or (ops_adapt_integers and isinstance(field, _INTEGER_FIELDS))
    ):
        return lambda instance: prepare(field.pre_save(instance, add), connection)
    attname = field.attname

    def read(instance: models.Model) -> Any:
        value = getattr(instance, attname)
        # type(), not isinstance(): a bool is an int, and a str subclass may be lazy text.
        if value is None or type(value) in kinds:
            return value
        return prepare(value, connection)

    return read
