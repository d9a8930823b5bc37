"""The HTTP client and the provider adapters, against a real loopback server and `responses`."""

from __future__ import annotations

import logging
import socket
from datetime import timedelta

import pytest
import requests
import responses
from django.utils import timezone

from django_shipping_orders import __version__, services
from django_shipping_orders.conf import shipping_settings
from django_shipping_orders.exceptions import (
    InvalidMerchantAccount,
    InvalidProviderResponse,
    OrderNotFound,
    ProviderTimeout,
    ProviderUnavailable,
    ProviderValidationError,
    RateLimited,
    ShippingOrdersError,
)
from django_shipping_orders.models import Order
from django_shipping_orders.providers import get_provider
from tests.conftest import load_fixture

from .helpers import API_KEY, account, documented_payload


def _order_body(reference="PPDOC0001", **changes):
    body = load_fixture("get_order_200.json")
    body["tracking_number"] = reference
    body.update(changes)
    return body


@pytest.fixture
def shippit(scripted_server):
    """An account whose BASE_URL is the scripted server."""
    # A real backoff, so that retries show in the recorded sleeps (see ``sleeps``).
    with account(scripted_server.url + "/api/3", BACKOFF_FACTOR=0.5):
        yield scripted_server


@pytest.fixture
def sleeps(shippit):
    """The client's sleeps, recorded instead of slept."""
    slept: list[float] = []
    get_provider("default").client._sleep = slept.append
    return slept


# -- refresh_order against the documented error bodies ---------------------------------------


@pytest.mark.django_db
def test_403_raises_invalid_merchant_account_with_the_providers_code(shippit):
    order = Order.objects.create(account="default", reference="PPDOC0001")
    shippit.add(403, load_fixture("get_order_403.json"))
    with pytest.raises(InvalidMerchantAccount) as info:
        services.refresh_order(order)
    err = info.value
    assert err.status_code == 403
    assert err.code == "invalid_merchant_account"
    assert err.description == "An unknown error has occurred."
    assert "invalid_merchant_account" in str(err) and "An unknown error has occurred." in str(err)
    assert len(shippit.requests) == 1, "a 403 is not retried"


@pytest.mark.django_db
def test_404_raises_order_not_found_and_the_order_stays_marked(shippit):
    order = Order.objects.create(account="default", reference="PPGONE001")
    shippit.add(404, load_fixture("get_order_404.json"))
    before = timezone.now()
    with pytest.raises(OrderNotFound) as info:
        services.refresh_order(order)
    err = info.value
    assert (err.status_code, err.code) == (404, "not_found")
    assert err.description == "The requested resource could not be found."
    assert err.reference == "PPGONE001"
    assert len(shippit.requests) == 1, "a 404 is not retried"

    stored = Order.objects.get(pk=order.pk)
    assert "not_found" in stored.last_error
    assert "The requested resource could not be found." in stored.last_error
    assert stored.refresh_failures == 1
    assert stored.next_refresh_at >= before + timedelta(hours=1)
    assert order.refresh_failures == 1  # the caller's instance is told too


@pytest.mark.django_db
def test_a_second_404_counts_another_failure(shippit):
    order = Order.objects.create(account="default", reference="PPGONE001")
    shippit.default = (404, load_fixture("get_order_404.json"), {})
    for _ in range(2):
        with pytest.raises(OrderNotFound):
            services.refresh_order(order)
    assert Order.objects.get(pk=order.pk).refresh_failures == 2


@pytest.mark.django_db
def test_503_then_200_succeeds_after_a_retry(shippit, sleeps):
    order = Order.objects.create(account="default", reference="PPDOC0001")
    shippit.add(503, {"error": "unavailable"})
    shippit.add(200, {"response": _order_body()})
    result = services.refresh_order(order)
    assert result.order.state == "order_placed"
    assert len(shippit.requests) == 2
    assert len(sleeps) == 1
    stored = Order.objects.get(pk=order.pk)
    assert stored.refresh_failures == 0 and stored.last_error == ""


@pytest.mark.django_db
def test_endless_503_gives_up_after_max_retries_plus_one_attempts(shippit, sleeps):
    order = Order.objects.create(account="default", reference="PPDOC0001")
    shippit.default = (503, {"error": "service_unavailable", "error_description": "Try later"}, {})
    with pytest.raises(ProviderUnavailable) as info:
        services.refresh_order(order)
    max_retries = shipping_settings.account("default").max_retries
    assert len(shippit.requests) == max_retries + 1 == 3
    assert len(sleeps) == max_retries
    message = str(info.value)
    assert "HTTP 503" in message and "after 3 attempts" in message and "Try later" in message
    assert Order.objects.get(pk=order.pk).refresh_failures == 1


def test_429_with_retry_after_is_honoured_within_the_callers_wait(shippit, sleeps):
    shippit.add(429, {"error": "rate_limited"}, {"Retry-After": "7"})
    shippit.add(200, _order_body())
    document = get_provider("default").with_wait(30).get_order("PPDOC0001")
    assert document.reference == "PPDOC0001"
    assert sleeps == [7.0]


def test_429_with_a_retry_after_past_the_default_wait_is_raised_at_once(shippit, sleeps):
    shippit.add(429, {"error": "rate_limited"}, {"Retry-After": "7"})
    with pytest.raises(RateLimited) as info:
        get_provider("default").get_order("PPDOC0001")
    assert info.value.retry_after == 7 and sleeps == []


def test_429_with_a_long_retry_after_is_raised_to_the_caller(shippit, sleeps):
    shippit.add(429, {"error": "rate_limited"}, {"Retry-After": "3600"})
    with pytest.raises(RateLimited) as info:
        get_provider("default").get_order("PPDOC0001")
    assert info.value.retry_after == 300  # RETRY_AFTER_MAX
    assert sleeps == []
    assert len(shippit.requests) == 1


def test_429_that_outlasts_the_retries_is_rate_limited(shippit, sleeps):
    shippit.default = (429, {"error": "rate_limited"}, {"Retry-After": "1"})
    with pytest.raises(RateLimited):
        get_provider("default").get_order("PPDOC0001")
    assert sleeps == [1.0, 1.0]


def test_backoff_grows_exponentially_with_jitter_and_a_cap(scripted_server):
    with account(scripted_server.url, MAX_RETRIES=4, BACKOFF_FACTOR=1, BACKOFF_MAX=3):
        slept: list[float] = []
        get_provider("default").client._sleep = slept.append
        scripted_server.default = (502, b"bad gateway", {})
        with pytest.raises(ProviderUnavailable):
            get_provider("default").get_order("PP1")
    assert len(slept) == 4
    for attempt, delay in enumerate(slept):
        assert 0 <= delay <= min(3, 2**attempt)


def test_posts_are_never_retried(shippit, sleeps):
    shippit.default = (503, {"error": "unavailable"}, {})
    with pytest.raises(ProviderUnavailable):
        get_provider("default").place_order({"retailer_reference": "R1"})
    assert [r["method"] for r in shippit.requests] == ["POST"]


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def test_timeout_raises_provider_timeout(silent_server):
    with account(silent_server, TIMEOUT=0.2, MAX_RETRIES=1):
        get_provider("default").client._sleep = lambda _: None
        with pytest.raises(ProviderTimeout) as info:
            get_provider("default").get_order("PPDOC0001")
    assert "timed out after 0.2 s" in str(info.value)
    assert isinstance(info.value, ProviderUnavailable)


def test_connection_refused_raises_provider_unavailable():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with (
        account(f"http://127.0.0.1:{port}", MAX_RETRIES=0),
        pytest.raises(ProviderUnavailable, match="ConnectionError"),
    ):
        get_provider("default").get_order("PP1")


def test_garbage_body_raises_invalid_provider_response(shippit):
    shippit.add(200, b"<html>Service temporarily unavailable</html>")
    with pytest.raises(InvalidProviderResponse, match="not JSON"):
        get_provider("default").get_order("PPDOC0001")


@pytest.mark.parametrize("body", [{"response": {"hello": "world"}}, [1, 2], {"response": []}])
def test_json_that_is_not_an_order_raises_invalid_provider_response(shippit, body):
    shippit.add(200, body)
    with pytest.raises(InvalidProviderResponse):
        get_provider("default").get_order("PPDOC0001")


def test_an_answer_about_another_order_is_refused(shippit):
    shippit.add(200, _order_body("PPOTHER"))
    with pytest.raises(InvalidProviderResponse, match="PPOTHER"):
        get_provider("default").get_order("PPDOC0001")


@pytest.mark.parametrize("wrapped", [True, False], ids=["wrapped", "unwrapped"])
def test_wrapped_and_unwrapped_bodies_are_both_accepted(shippit, wrapped):
    body = _order_body()
    shippit.add(200, {"response": body} if wrapped else body)
    document = get_provider("default").get_order("PPDOC0001")
    assert document.reference == "PPDOC0001"
    assert document.fields["receiver_name"] == "Receiver Name"


def test_request_headers_user_agent_bearer_and_platform(shippit):
    shippit.add(200, _order_body())
    get_provider("default").get_order("PPDOC0001")
    headers = {k.lower(): v for k, v in shippit.requests[0]["headers"].items()}
    assert headers["user-agent"].startswith(f"django-shipping-orders/{__version__}")
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert headers["x-shippit-platform"] == "django-shipping-orders"
    assert headers["accept"] == "application/json"


def test_a_reference_cannot_escape_its_path_segment(shippit):
    shippit.add(200, _order_body("../admin?x=1"))
    get_provider("default").get_order("../admin?x=1")
    assert shippit.requests[0]["path"] == "/api/3/orders/..%2Fadmin%3Fx%3D1"


def test_place_order_sends_the_wrapped_order(shippit):
    import json

    shippit.add(200, {"response": _order_body("PPNEW", state="processing")})
    document = get_provider("default").place_order({"retailer_reference": "R1"})
    assert document.reference == "PPNEW"
    request = shippit.requests[0]
    assert (request["method"], request["path"]) == ("POST", "/api/3/orders")
    assert json.loads(request["body"]) == {"order": {"retailer_reference": "R1"}}


def test_422_raises_a_validation_error_with_the_providers_code(shippit):
    shippit.add(
        422, {"error": "invalid_order", "error_description": "delivery_postcode is invalid"}
    )
    with pytest.raises(ProviderValidationError) as info:
        get_provider("default").place_order({"retailer_reference": "R1"})
    assert info.value.code == "invalid_order"
    assert info.value.description == "delivery_postcode is invalid"


def test_wrapped_error_bodies_are_read(shippit):
    shippit.add(404, {"response": {"error": "not_found", "error_description": "Nope"}})
    with pytest.raises(OrderNotFound) as info:
        get_provider("default").get_order("PP1")
    assert info.value.description == "Nope"


# -- Sender.lv ---------------------------------------------------------------------------------


def _senderlv_body(**changes):
    body = _order_body()
    del body["tracking_number"]
    body["order_reference"] = "SLV-0001"
    body.update(changes)
    return body


def test_senderlv_reads_order_reference_and_sends_its_headers(scripted_server):
    scripted_server.add(200, _senderlv_body(state="accepted"))
    with account(
        scripted_server.url + "/api/v1",
        provider="senderlv",
        LANGUAGE="lv",
        AUTH_HEADER="X-Api-Key",
        AUTH_SCHEME="",
    ):
        document = get_provider("default").get_order("SLV-0001")
    assert document.reference == "SLV-0001"
    assert document.state == "accepted"
    request = scripted_server.requests[0]
    assert request["path"] == "/api/v1/orders/SLV-0001"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["x-api-lang-iso"] == "lv"
    assert headers["x-api-key"] == API_KEY
    assert "authorization" not in headers
    assert "x-shippit-platform" not in headers


def test_senderlv_auth_scheme_is_configurable(scripted_server):
    scripted_server.add(200, _senderlv_body())
    with account(scripted_server.url, provider="senderlv", AUTH_SCHEME="Token"):
        get_provider("default").get_order("SLV-0001")
    headers = {k.lower(): v for k, v in scripted_server.requests[0]["headers"].items()}
    assert headers["authorization"] == f"Token {API_KEY}"
    assert "x-api-lang-iso" not in headers


def test_senderlv_default_base_url():
    with account(None, provider="senderlv"):
        assert get_provider("default").base_url == "https://api.sender.lv/api/v1"


def test_senderlv_field_map_renames_fields(scripted_server):
    body = {
        "order_reference": "SLV-0001",
        "status": "accepted",
        "receiver": "Jānis Bērziņš",
        "cod": 12.5,
    }
    scripted_server.add(200, body)
    with account(
        scripted_server.url,
        provider="senderlv",
        FIELD_MAP={
            "status": "state",
            "receiver": "receiver_name",
            "cod": "cash_on_delivery_amount",
        },
    ):
        document = get_provider("default").get_order("SLV-0001")
    assert document.state == "accepted"
    assert document.fields["receiver_name"] == "Jānis Bērziņš"
    assert document.fields["cash_on_delivery_amount"] == pytest.approx(12.5)
    assert str(document.fields["cash_on_delivery_amount"]) == "12.5"


def test_senderlv_state_map_turns_its_states_into_known_ones(scripted_server):
    body = _senderlv_body(
        state="Delivered",
        status_history=[{"status": "Delivered", "time": "2026-01-05T10:00:00+02:00"}],
    )
    scripted_server.add(200, body)
    with account(scripted_server.url, provider="senderlv", STATE_MAP={"delivered": "completed"}):
        document = get_provider("default").get_order("SLV-0001")
    assert document.state == "completed"
    assert document.fields["state"] == "completed"
    assert document.state_time() is not None
    assert document.raw["state"] == "Delivered"


def test_senderlv_unmapped_states_pass_unchanged(scripted_server):
    scripted_server.add(200, _senderlv_body(state="queued_for_robot"))
    with account(scripted_server.url, provider="senderlv", STATE_MAP={"delivered": "completed"}):
        assert get_provider("default").get_order("SLV-0001").state == "queued_for_robot"


@pytest.mark.django_db
def test_senderlv_mapped_terminal_state_stops_polling(scripted_server):
    scripted_server.add(200, _senderlv_body(state="delivered"))
    with account(scripted_server.url, provider="senderlv", STATE_MAP={"delivered": "completed"}):
        order = Order.objects.create(account="default", reference="SLV-0001")
        result = services.refresh_order(order)
    assert result.order.state == "completed"
    assert result.order.is_terminal
    assert result.order.next_refresh_at is None


def test_senderlv_places_the_order_unwrapped(scripted_server):
    import json

    scripted_server.add(200, _senderlv_body(state="processing"))
    with account(scripted_server.url, provider="senderlv"):
        get_provider("default").place_order({"retailer_reference": "R1"})
    assert json.loads(scripted_server.requests[0]["body"]) == {"retailer_reference": "R1"}


# -- secrets -----------------------------------------------------------------------------------


def _all_errors(server):
    """Drive every error path once; return the raised exceptions."""
    provider = get_provider("default")
    provider.client._sleep = lambda _: None
    errors: list[ShippingOrdersError] = []
    scripts = [
        [(403, load_fixture("get_order_403.json"))],
        [(404, load_fixture("get_order_404.json"))],
        [(422, {"error": "order_cannot_be_cancelled", "order_state": "in_transit"})],
        [(503, {"error": "x"})] * 3,
        [(429, {"error": "slow down"}, {"Retry-After": "999"})],
        [(200, b"not json")],
        [(200, {"response": {"no": "reference"}})],
    ]
    for script in scripts:
        for item in script:
            server.add(*item)
        with pytest.raises(ShippingOrdersError) as info:
            if script[0][0] == 422:
                provider.cancel_order("PPDOC0001")
            else:
                provider.get_order("PPDOC0001")
        errors.append(info.value)
    return errors


def test_the_api_key_never_appears_in_errors_reprs_or_logs(shippit, caplog):
    caplog.set_level(logging.DEBUG)
    errors = _all_errors(shippit)
    assert len(errors) == 7
    provider = get_provider("default")
    texts = [str(e) for e in errors] + [repr(e) for e in errors] + [repr(e.args) for e in errors]
    texts += [repr(provider), repr(provider.client), repr(provider.account), str(provider.account)]
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(record.args) for record in caplog.records]
    assert caplog.records, "expected the client to log its retries"
    for text in texts:
        assert API_KEY not in text
    # The response an error carries no longer holds the key in its request headers.
    for error in errors:
        if error.response is not None:
            assert API_KEY not in str(error.response.request.headers)
    # ... while the session still works for the next request.
    shippit.add(200, _order_body())
    provider.get_order("PPDOC0001")
    assert shippit.requests[-1]["headers"]["Authorization"] == f"Bearer {API_KEY}"


def test_the_api_key_is_not_in_the_session_headers(shippit):
    session_headers = get_provider("default").client.session.headers
    assert API_KEY not in str(session_headers)


def test_a_wrong_api_key_type_error_does_not_echo_it():
    from django.test import override_settings

    from django_shipping_orders.conf import account_type_errors

    with override_settings(
        SHIPPING_ORDERS={"ACCOUNTS": {"default": {"PROVIDER": "shippit", "API_KEY": 987654321}}}
    ):
        messages = account_type_errors("default", {"API_KEY": 987654321})
    assert messages and "987654321" not in messages[0]


# -- small unit tests with `responses` ---------------------------------------------------------


@responses.activate
def test_retry_after_as_an_http_date_is_honoured():
    from email.utils import format_datetime

    when = format_datetime(timezone.now() + timedelta(seconds=30), usegmt=True)
    responses.get(
        "https://shippit.test/api/3/orders/PP1", status=429, headers={"Retry-After": when}
    )
    responses.get("https://shippit.test/api/3/orders/PP1", json=_order_body("PP1"))
    provider = get_provider("default").with_wait(60)
    slept: list[float] = []
    provider.client._sleep = slept.append
    provider.get_order("PP1")
    assert len(slept) == 1 and 25 <= slept[0] <= 31


@responses.activate
def test_a_read_timeout_is_retried_then_succeeds():
    responses.get(
        "https://shippit.test/api/3/orders/PP1", body=requests.exceptions.ReadTimeout("slow")
    )
    responses.get("https://shippit.test/api/3/orders/PP1", json={"response": _order_body("PP1")})
    provider = get_provider("default")
    provider.client._sleep = lambda _: None
    assert provider.get_order("PP1").reference == "PP1"
    assert len(responses.calls) == 2


@responses.activate
def test_every_request_has_a_timeout(monkeypatch):
    seen = {}
    original = requests.Session.request

    def spy(self, method, url, **kwargs):
        seen["timeout"] = kwargs.get("timeout")
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    responses.get("https://shippit.test/api/3/orders/PP1", json=_order_body("PP1"))
    get_provider("default").get_order("PP1")
    assert seen["timeout"] == (5.0, 20.0)


@responses.activate
def test_cancel_422_carries_the_order_state():
    from django_shipping_orders.exceptions import OrderCannotBeCancelled

    responses.delete(
        "https://shippit.test/api/3/orders/PP1",
        status=422,
        json={
            "error": "order_cannot_be_cancelled",
            "error_description": "Too late",
            "order_state": "in_transit",
        },
    )
    with pytest.raises(OrderCannotBeCancelled) as info:
        get_provider("default").cancel_order("PP1")
    assert info.value.order_state == "in_transit"
    assert info.value.code == "order_cannot_be_cancelled"


@responses.activate
def test_money_from_the_wire_is_decimal():
    from decimal import Decimal

    responses.get(
        "https://shippit.test/api/3/orders/PP1", body=b'{"tracking_number": "PP1", "duties": 0.1}'
    )
    document = get_provider("default").get_order("PP1")
    assert type(document.fields["duties"]) is Decimal and document.fields["duties"] == Decimal(
        "0.1"
    )


def test_documented_payload_helper_is_decimal():
    from decimal import Decimal

    assert type(documented_payload()["cash_on_delivery_amount"]) is Decimal


def test_transport_errors_are_not_chained_to_frames_holding_the_api_key(silent_server):
    # Django's error reports print the locals of every chained frame, and the
    # HTTP library's frames hold the request headers: the error stands alone.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with (
        account(f"http://127.0.0.1:{port}", MAX_RETRIES=0),
        pytest.raises(ProviderUnavailable) as refused,
    ):
        get_provider("default").get_order("PPDOC0001")
    with (
        account(silent_server, TIMEOUT=0.2, MAX_RETRIES=0),
        pytest.raises(ProviderTimeout) as timed_out,
    ):
        get_provider("default").get_order("PPDOC0001")
    for error in (refused.value, timed_out.value):
        assert error.__cause__ is None
        assert error.__suppress_context__
    assert "ConnectionError (NewConnectionError)" in str(refused.value)
