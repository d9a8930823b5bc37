"""How the models' JSON fields write numbers: ``PayloadEncoder``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder


def decimal_as_stored(number: Decimal) -> int | float | str:
    """What ``PayloadEncoder`` writes for ``number``, and reading it back gives.

    A payload repeats a few spellings (weights, prices) many times, so the
    answer is kept per spelling: ``str`` of a ``Decimal`` keeps its sign,
    digits and exponent, so equal texts get equal answers (``2.0`` and ``2``
    are told apart; they are stored as ``2.0`` and ``2``).
    """
    text = str(number)
    stored = _STORED.get(text)
    if stored is None:
        stored = _stored(number, text)
        if len(text) <= _SPELLING_MAX:  # a long one is rare, and would make the cache big
            if len(_STORED) >= _STORED_MAX:
                _STORED.clear()  # hostile bodies with endless spellings cost memory, no more
            _STORED[text] = stored
    return stored


def _stored(number: Decimal, text: str) -> int | float | str:
    if not number.is_finite() or not -300 < number.adjusted() < 300:
        return text
    if number == number.to_integral_value() and "." not in text:
        return int(number)
    as_float = float(number)
    # The float's shortest text is what a JSON reader gives back: equal, or keep the text.
    return as_float if Decimal(repr(as_float)) == number else text


#: Spellings seen lately and what is stored for each; cleared when full.
_STORED: dict[str, int | float | str] = {}
_STORED_MAX = 4096
_SPELLING_MAX = 40


class PayloadEncoder(DjangoJSONEncoder):
    """Writes ``Decimal`` as a JSON number, so a stored payload reads like the one received.

    A number no JSON reader holds as a number (``1.5e400`` would read as
    infinity, which PostgreSQL refuses in ``jsonb``; ``1e-400`` as zero) is
    written as its text instead: kept exactly, and storable everywhere. So is
    one with more digits than a float holds (``0.1234567890123456789``, read
    back as ``0.12345678901234568``): a value too precise for its column is
    kept whole in ``raw``, and two payloads that differ only past the 17th
    digit are stored apart.
    """

    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            return decimal_as_stored(o)
        return super().default(o)
