"""Random bodies never get a 500, and every authenticated one is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_shipping_orders.models import CallbackReceipt, Order

from .conftest import SECRET, callback_url, order_document, webhook

pytestmark = pytest.mark.django_db

KNOWN_KEYS = sorted({*webhook(), *order_document(), "order_reference", "updated_at", "state"})

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["2016-04-26T19:36:32.000Z", "completed", "in_transit", "", "PP1", "0.1"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KNOWN_KEYS) | st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=12,
)


@st.composite
def mutated_documents(draw: Any) -> bytes:
    """A documented payload with some keys replaced by random JSON or removed."""
    payload = draw(st.sampled_from([webhook(), order_document()]))
    for key in draw(st.lists(st.sampled_from(KNOWN_KEYS), max_size=4)):
        if draw(st.booleans()):
            payload[key] = draw(json_values)
        else:
            payload.pop(key, None)
    return json.dumps(payload).encode()


bodies = (
    st.binary(max_size=300)
    | json_values.map(lambda value: json.dumps(value).encode())
    | mutated_documents()
    | st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass"))
)
credentials = st.sampled_from(["header", "token", "missing", "wrong"])
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/plain", ""]
)


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(body=bodies, credential=credentials, content_type=content_types)
def test_random_bodies_never_500_and_authenticated_ones_are_stored(body, credential, content_type):
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    headers: dict[str, str] = {}
    token = None
    if credential == "header":
        headers["HTTP_X_SHIPPING_CALLBACK_SECRET"] = SECRET
    elif credential == "token":
        token = SECRET
    elif credential == "wrong":
        headers["HTTP_X_SHIPPING_CALLBACK_SECRET"] = "wrong"
    before_orders = Order.objects.count()
    before = CallbackReceipt.objects.exclude(status=CallbackReceipt.Status.REJECTED).count()

    response = client.post(
        callback_url(token=token), data=body, content_type=content_type, **headers
    )

    assert response.status_code in {200, 400, 401, 403}, response.content
    answer = response.json()
    stored = CallbackReceipt.objects.exclude(status=CallbackReceipt.Status.REJECTED)
    if credential in ("header", "token"):
        assert response.status_code in {200, 400}
        assert stored.count() == before + 1
        receipt = stored.order_by("pk").last()
        assert bytes(receipt.body) == body
        assert receipt.status != CallbackReceipt.Status.RECEIVED
        if response.status_code == 400:
            assert answer["error"] and answer["detail"]
    else:
        assert response.status_code in {401, 403}
        assert stored.count() == before
        assert Order.objects.count() == before_orders
