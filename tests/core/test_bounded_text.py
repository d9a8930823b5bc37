"""Text no database stores is refused however the body spells it, and named where it is."""

from __future__ import annotations

import json

import pytest

from django_shipping_orders.bounded import Limits, read
from django_shipping_orders.exceptions import UnreadableDocument


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"a":{"b":["ok","x\\ud800"]}}', "a.b[1]"),  # an escaped lone surrogate
        (b'{"a":"x\\u0000"}', "a"),  # an escaped NUL
        ('{"a":["\ud800"]}'.encode("utf-8", "surrogatepass"), "a[0]"),  # a surrogate as UTF-8
        ('{"a":{"b":"\udfff"}}', "a.b"),  # a str body holding one as it is
        ('{"a":"\\ud800"}'.encode("utf-16"), "a"),  # a UTF-16 body
        (b'{"k":{"\\u0000":1}}', "k.\\u0000"),  # a key
    ],
)
def test_unstorable_text_is_refused_and_named(body, field):
    with pytest.raises(UnreadableDocument) as info:
        read(body)
    assert info.value.code == "unstorable_text"
    assert info.value.field == field


@pytest.mark.parametrize(
    "body", [b'{"a":"caf\\u00e9 \xc3\xa9 \xed\x9f\xbf"}', '{"a":"café \\u00e9"}']
)
def test_text_outside_the_surrogates_reads(body):
    """U+D7FF (ED 9F BF in UTF-8) is the last character before the surrogates."""
    assert read(body)["a"].startswith("café")


def test_depth_and_size_are_named_in_a_body_without_escapes():
    with pytest.raises(UnreadableDocument) as deep:
        read(json.dumps({"a": [[[["x"]]]]}).encode(), Limits(max_depth=4))
    assert (deep.value.code, deep.value.field) == ("too_deep", "a[0][0][0]")
    with pytest.raises(UnreadableDocument) as many:
        read(json.dumps({"a": {"b": [1, 2, 3]}}).encode(), Limits(max_items=2))
    assert (many.value.code, many.value.field) == ("too_many_items", "a.b")
