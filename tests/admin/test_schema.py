"""The OpenAPI schema of the orders API and the tracking endpoint, and a schemathesis run against it.

Schemathesis generates requests from the schema (valid and invalid ones)
and sends them to the app in this process through WSGI: no network. Every
answer must be documented by the schema and match it, and none may be a 5xx.
"""

from __future__ import annotations

import base64
import json
import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.urls import reverse
from hypothesis import HealthCheck, settings

from django_shipping_orders.api import tracking_token

pytestmark = pytest.mark.django_db

SCHEMA_URL = "/shipping/api/schema/?format=json"


def test_schema_is_served_with_the_apps_own_endpoints_under_their_prefix(client):
    response = client.get(SCHEMA_URL)
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert sorted(schema["paths"]) == [
        "/shipping/api/orders/",
        "/shipping/api/orders/{id}/",
        "/shipping/api/tracking/",
    ]
    tracking = schema["paths"]["/shipping/api/tracking/"]["get"]
    assert {"200", "400", "404", "429"} <= set(tracking["responses"])
    assert {p["name"] for p in tracking["parameters"]} == {"retailer_reference", "token"}
    assert "receiver_name" not in schema["components"]["schemas"]["PublicTracking"]["properties"]


def test_tracking_has_a_throttle_of_its_own(client, make_order, settings):
    order = make_order()
    url = reverse("shipping_orders:api-tracking")
    params = {"retailer_reference": order.retailer_reference, "token": tracking_token(order)}
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"shipping_tracking": "3/min"}}
    answers = [client.get(url, params).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    limited = client.get(url, params)
    assert int(limited["Retry-After"]) > 0
    other = client.get(url, params, REMOTE_ADDR="10.1.2.3")
    assert other.status_code == 200  # counted per address


def test_tracking_throttle_has_a_default_without_any_drf_setting(client, make_order, settings):
    from django_shipping_orders.api import TRACKING_RATE, TrackingThrottle

    settings.REST_FRAMEWORK = {}
    assert TrackingThrottle().get_rate() == TRACKING_RATE


# Loaded while the tests are collected (the schema view reads no database). Schemathesis's
# lazy loader (``from_fixture``) does not run on the pytest this suite uses.
schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, get_wsgi_application())


@pytest.fixture
def keep_the_test_database_open():
    """What Django's test client does: the WSGI handler must not close the test's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def orders_and_a_staff_login(settings, make_order, make_user, keep_the_test_database_open):
    """A few orders to find, a staff user's Basic credentials, and no tracking throttle."""
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"shipping_tracking": "100000/min"}}
    for _ in range(3):
        make_order()
    make_user("api-reader")  # staff, password "pw"
    return {"Authorization": "Basic " + base64.b64encode(b"api-reader:pw").decode()}


@schema.parametrize()
@settings(
    # A quick run in every suite; .ci/run sets SCHEMATHESIS_MAX_EXAMPLES for a deeper one.
    max_examples=int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_answers_every_generated_request_as_its_schema_says(case, orders_and_a_staff_login):
    # Real credentials instead of a made-up session cookie; schemathesis also sends each
    # request without them, and with wrong ones, and checks that those are refused.
    if case.cookies:
        case.cookies.pop("sessionid", None)
    case.call_and_validate(headers=orders_and_a_staff_login)
