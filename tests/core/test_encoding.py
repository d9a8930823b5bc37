"""What a JSON field stores for a ``Decimal``: the same answer, however often a spelling comes."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from django_shipping_orders.models import PayloadEncoder, encoding

#: Spellings of equal values (2, 2.0, 2E+0 …) and of values a float cannot hold exactly.
SPELLINGS = [
    "2", "2.0", "2.00", "2E+0", "2E+1", "20", "0.1", "0.10", "1E-7", "0E-7", "-0.0", "0",
    "1.5", "1.50", "12345678901234567.5", "0.1234567890123456789", "1.5E400", "1E-400",
    "NaN", "-Infinity", "9" * 60, "9" * 60 + ".5",
]  # fmt: skip


def reference(number: Decimal) -> object:
    """What the encoder stores, worked out from the text alone, with no cache."""
    text = str(number)
    if not number.is_finite() or not -300 < number.adjusted() < 300:
        return text
    if number == number.to_integral_value() and "." not in text:
        return int(number)
    return float(number) if Decimal(repr(float(number))) == number else text


@given(st.lists(st.sampled_from(SPELLINGS), min_size=1, max_size=40))
def test_a_spelling_gets_the_same_answer_whatever_came_before(spellings):
    for text in spellings:
        number = Decimal(text)
        stored = encoding.decimal_as_stored(number)
        expected = reference(number)
        assert (type(stored), stored) == (type(expected), expected)


def test_equal_values_spelled_apart_are_stored_apart():
    assert repr(encoding.decimal_as_stored(Decimal("2.0"))) == "2.0"
    assert repr(encoding.decimal_as_stored(Decimal("2"))) == "2"
    assert repr(encoding.decimal_as_stored(Decimal("2.0"))) == "2.0"


def test_the_cache_stays_bounded_under_endless_spellings(monkeypatch):
    monkeypatch.setattr(encoding, "_STORED", {})
    for i in range(3 * encoding._STORED_MAX):
        encoding.decimal_as_stored(Decimal(f"{i}.25"))
    encoding.decimal_as_stored(Decimal("1." + "3" * 5000))  # a long spelling is not kept
    assert 0 < len(encoding._STORED) <= encoding._STORED_MAX
    assert all(len(text) <= encoding._SPELLING_MAX for text in encoding._STORED)


def test_the_encoder_writes_what_the_cache_answers():
    numbers = [Decimal(text) for text in SPELLINGS if text not in ("NaN", "-Infinity")]
    written = json.loads(json.dumps(numbers, cls=PayloadEncoder))
    assert [repr(value) for value in written] == [repr(reference(n)) for n in numbers]
