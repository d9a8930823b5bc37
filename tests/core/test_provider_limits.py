"""Provider answers that push on the client's limits: redirects, Retry-After, echoed secrets."""

from __future__ import annotations

import json

import pytest

from django_shipping_orders import services
from django_shipping_orders.exceptions import (
    ProviderAPIError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    SubmissionOutcomeUnknown,
    UnexpectedRedirect,
)
from django_shipping_orders.models import Order
from django_shipping_orders.providers import get_provider
from tests.conftest import fixture_bytes

from .helpers import account


@pytest.fixture
def shippit(scripted_server):
    with account(scripted_server.url + "/api/3", BACKOFF_FACTOR=0.5):
        yield scripted_server


@pytest.fixture
def sleeps(shippit):
    slept: list[float] = []
    get_provider("default").client._sleep = slept.append
    return slept


# -- redirects are never followed ------------------------------------------------------------


def test_a_redirect_loop_is_one_request_and_a_typed_error(shippit, sleeps):
    shippit.default = (302, {}, {"Location": shippit.url + "/api/3/orders/PPDOC0001"})
    with pytest.raises(UnexpectedRedirect) as info:
        get_provider("default").get_order("PPDOC0001")
    assert info.value.status_code == 302
    assert len(shippit.requests) == 1


def test_a_redirect_to_another_host_or_a_private_address_is_not_followed(shippit, sleeps):
    shippit.add(302, {}, {"Location": "http://10.0.0.1/steal"})
    with pytest.raises(UnexpectedRedirect):
        get_provider("default").get_order("PPDOC0001")
    assert len(shippit.requests) == 1


@pytest.mark.django_db
def test_a_307_on_place_is_not_re_sent_and_the_order_is_refused(shippit, sleeps):
    shippit.default = (307, {}, {"Location": shippit.url + "/api/3/orders"})
    with pytest.raises(UnexpectedRedirect):
        services.place_order("default", {"user_attributes": {"email": "a@example.com"}})
    assert [r["method"] for r in shippit.requests] == ["POST"]
    assert Order.objects.get().placement == Order.Placement.REJECTED


# -- Retry-After is bounded --------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["999999999", "86400", "inf", "1e20", "1e400", "Fri, 31 Dec 9999 23:59:59 GMT", "nan", "-5"],
)
def test_a_retry_after_is_finite_and_capped_by_retry_after_max(shippit, sleeps, value):
    shippit.default = (429, {"error": "rate_limited"}, {"Retry-After": value})
    with pytest.raises(RateLimited) as info:
        get_provider("default").get_order("PPDOC0001")
    retry_after = info.value.retry_after
    assert retry_after is None or 0 <= retry_after <= 300
    assert all(0 <= s <= 300 for s in sleeps)


# -- secrets echoed in a 200 answer ------------------------------------------------------------


def _payload(reference, **changes):
    body = json.loads(fixture_bytes("get_order_200.json"))
    body["tracking_number"] = reference
    body.update(changes)
    return body


@pytest.mark.django_db
def test_an_api_key_echoed_in_a_200_answer_never_reaches_the_order(shippit):
    from .helpers import API_KEY

    order = Order.objects.create(account="default", reference="PPDOC0001")
    body = _payload(
        "PPDOC0001", courier_name=API_KEY, delivery_instructions="cb-secret-never-shown"
    )
    shippit.add(200, {"response": body})
    services.refresh_order(order)
    stored = Order.objects.get(pk=order.pk)
    text = str(stored.raw) + "".join(str(getattr(stored, f.attname)) for f in Order._meta.fields)
    assert API_KEY not in text and "cb-secret-never-shown" not in text
    assert "[redacted]" in text


def test_a_tracking_number_equal_to_the_key_is_not_quoted_in_the_error(shippit):
    from .helpers import API_KEY

    shippit.add(200, {"response": _payload(API_KEY)})
    with pytest.raises(Exception) as info:
        get_provider("default").get_order("PPDOC0001")
    assert API_KEY not in str(info.value)


# -- the wait budget and the total deadline hold ----------------------------------------------


def test_a_5xx_retry_after_past_the_wait_budget_is_not_waited_out(shippit, sleeps):
    shippit.default = (503, {"error": "unavailable"}, {"Retry-After": "20"})
    with pytest.raises(ProviderUnavailable):
        get_provider("default").with_wait(2).get_order("PPDOC0001")
    assert sleeps == []
    assert len(shippit.requests) == 1


def test_a_dead_lock_holder_ends_in_a_typed_refusal_within_the_budget(tmp_path):
    from django.core.cache import caches
    from django.test import override_settings

    from django_shipping_orders.conf import shipping_settings
    from django_shipping_orders.exceptions import RateBudgetExhausted
    from django_shipping_orders.ratelimit import RateLimiter
    from django_shipping_orders.ratelimit.limiter import budget_key

    files = {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache"}
    caches_setting = {"default": {**files, "LOCATION": str(tmp_path)}}
    with override_settings(CACHES=caches_setting), account("http://127.0.0.1:9/api/3"):
        config = shipping_settings.account("default")
        # A worker died holding the lock: it stays taken until its timeout.
        caches["default"].add(budget_key(config) + ":lock", "dead", timeout=5)
        with pytest.raises(RateBudgetExhausted) as info:
            RateLimiter().acquire(config, wait=0.5)
        assert "lock" in str(info.value)


class TricklingServer:
    """Answers 200 with a valid order body, one byte at a time."""

    def __init__(self, body: bytes, every: float) -> None:
        import socket
        import threading

        self.body, self.every = body, every
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import time

        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.recv(65536)
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(self.body)}\r\n\r\n"
            try:
                conn.sendall(head.encode())
                for byte in self.body:
                    if self.stop.is_set():
                        break
                    conn.sendall(bytes([byte]))
                    time.sleep(self.every)
            except OSError:
                pass
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.mark.django_db
def test_a_trickled_answer_is_cut_at_the_total_deadline():
    body = json.dumps({"response": _payload("PPDOC0001")}).encode()
    server = TricklingServer(body, every=0.05)  # minutes for the whole body
    try:
        with account(server.url + "/api/3", TIMEOUT=1, CONNECT_TIMEOUT=0.5, MAX_RETRIES=0):
            with pytest.raises(ProviderTimeout):
                get_provider("default").get_order("PPDOC0001")
            with pytest.raises(SubmissionOutcomeUnknown):
                services.place_order("default", {"retailer_reference": "#T1"}, wait=1)
    finally:
        server.close()


# -- scrubbed first, then cut --------------------------------------------------------------------


def test_a_long_error_description_is_scrubbed_before_it_is_cut(shippit):
    from .helpers import API_KEY

    description = "x" * 990 + API_KEY
    shippit.add(422, {"error": "invalid", "error_description": description})
    with pytest.raises(ProviderAPIError) as info:
        get_provider("default").get_order("PPDOC0001")
    for text in (str(info.value), info.value.description):
        assert API_KEY[:8] not in text


@pytest.mark.django_db
def test_a_stored_error_is_scrubbed_before_it_is_cut(shippit):
    from django_shipping_orders import sync

    from .helpers import API_KEY

    order = Order.objects.create(account="default", reference="PPDOC0001")
    sync.record_refresh_failure(order, ProviderAPIError("y" * 1960 + API_KEY))
    assert API_KEY[:8] not in Order.objects.get(pk=order.pk).last_error
