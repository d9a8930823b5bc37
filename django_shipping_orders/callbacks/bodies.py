"""What makes a callback body usable: one judgement, the same inline, deferred and on reprocessing.

:func:`examine` reads the body within ``DOCUMENT_LIMITS`` and parses it with
the account's adapter. The view calls it before answering in both processing
modes, and processing calls it again on a stored receipt, so a body refused
in one mode is refused in the other, and a body accepted is one that the task
can read. What it refuses can never be applied: the view answers 400 and the
receipt is kept as ``unprocessable``.
"""

from __future__ import annotations

from typing import Any

from ..conf import shipping_settings
from ..documents import OrderDocument, as_pushed, loads
from ..exceptions import CallbackError, DocumentError, UnreadableDocument
from ..models import CallbackReceipt
from ..providers import Provider
from .receipts import content_key

_MAX_REFERENCE_LENGTH = CallbackReceipt._meta.get_field("reference").max_length or 64


def examine(body: bytes, provider: Provider) -> OrderDocument:
    """The order document in ``body``; raises ``CallbackError`` with a code and a readable reason.

    Codes: ``invalid_json``, ``not_an_object``, ``invalid_document``, and the
    limits of ``bounded`` (``number_too_large``, ``too_many_items``,
    ``too_deep``, ``unstorable_text``).
    """
    return examine_keyed(body, provider, key=False)[0]


def examine_keyed(
    body: bytes, provider: Provider, *, key: bool = True
) -> tuple[OrderDocument, str]:
    """:func:`examine`, and the body's ``content_key`` (``""`` unless ``key``).

    The view stores a receipt under its content's key: a body sent again in
    other bytes (keys in another order, other spacing or escapes) is the same
    callback, and is recognised as its duplicate.
    """
    try:
        payload: Any = loads(body, shipping_settings.document_limits)
    except UnreadableDocument as err:
        raise CallbackError(str(err), code=err.code or "invalid_json") from None
    if not isinstance(payload, dict):
        raise CallbackError(
            f"The body must be a JSON object, got {_json_type(payload)}.", code="not_an_object"
        )
    try:
        # A callback's products are what shipped, whatever else its keys say.
        document = as_pushed(provider.parse_document(payload))
    except DocumentError as err:
        raise CallbackError(str(err), code="invalid_document") from None
    _check_reference(document.reference)
    if not key:
        return document, ""
    # As the document reads it: FIELD_MAP renames keys first, and where two keys get one
    # name the later one counts, so their order is part of the content.
    field_map = provider.account.field_map
    if field_map:
        payload = {field_map.get(name, name): value for name, value in payload.items()}
    return document, content_key(payload)


def _check_reference(reference: str) -> None:
    if any(ord(char) < 32 for char in reference):
        raise CallbackError(
            "The order reference contains control characters.", code="invalid_document"
        )
    if len(reference) > _MAX_REFERENCE_LENGTH:
        raise CallbackError(
            f"The order reference is longer than {_MAX_REFERENCE_LENGTH} characters.",
            code="invalid_document",
        )


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
