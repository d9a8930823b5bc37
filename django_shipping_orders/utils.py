"""Small pure helpers shared by the admin, the API and the views; no Django models here."""

from __future__ import annotations

from django.db.models import Field, Model


def safe_web_url(url: str) -> str:
    """``url`` if it is an http(s) link, else "" (never a ``javascript:`` link from a provider)."""
    text = (url or "").strip()
    return text if text.lower().startswith(("https://", "http://")) else ""


def column_name(model: type[Model], name: str) -> str:
    """The database column of ``model``'s field ``name``; a relation without a column is refused."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field) or not field.column:
        raise LookupError(f"{model.__name__}.{name} has no column of its own")
    return field.column
