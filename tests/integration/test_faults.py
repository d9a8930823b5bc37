"""Each request fault of the sandbox, observed by the app as the fault it names."""

from __future__ import annotations

import time

import pytest

from django_shipping_orders import services
from django_shipping_orders.exceptions import (
    InvalidProviderResponse,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    SubmissionOutcomeUnknown,
)
from django_shipping_orders.models import Order

from .conftest import API_KEYS, SENDERLV, SHIPPIT, order_payload, raises_without_secrets

pytestmark = pytest.mark.django_db

GET_ORDER = {SHIPPIT: "GET /api/3/orders/{ref}", SENDERLV: "GET /api/v1/orders/{ref}"}
POST_ORDER = {SHIPPIT: "POST /api/3/orders", SENDERLV: "POST /api/v1/orders"}


def placed(shop, alias=SHIPPIT) -> Order:
    """An order placed without faults; the sandbox's counters start from zero after it."""
    order = services.place_order(alias, order_payload())
    shop.sandbox.reset_stats()
    return order


def server_errors(stats) -> int:
    return sum(n for status, n in stats["statuses"].items() if status in ("500", "503"))


def wait_until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


# -- fail_rate: 500 / 503 ----------------------------------------------------------------


@pytest.mark.parametrize("alias", [SHIPPIT, SENDERLV])
def test_fail_rate_one_is_provider_unavailable_after_every_retry(shop, alias):
    shop.configure(alias, MAX_RETRIES=2)
    order = placed(shop, alias)
    shop.sandbox.set_faults(fail_rate=1)

    with raises_without_secrets(ProviderUnavailable) as info:
        services.refresh_order(order)

    stats = shop.sandbox.stats()
    assert stats["routes"] == {GET_ORDER[alias]: 3}  # MAX_RETRIES + 1
    assert server_errors(stats) == 3
    assert info.value.status_code in (500, 503)
    assert "after 3 attempts" in str(info.value)
    order.refresh_from_db()
    assert order.refresh_failures == 1
    assert order.last_error


def test_provider_recovering_during_the_backoff_is_a_success_after_one_retry(shop):
    shop.configure(SHIPPIT, MAX_RETRIES=3, BACKOFF_FACTOR=1.0)  # the sleep is recorded, not slept
    order = placed(shop)
    shop.sandbox.set_faults(fail_rate=1)
    delays: list[float] = []

    def provider_recovers(delay: float) -> None:
        delays.append(delay)
        shop.sandbox.set_faults(fail_rate=0)

    shop.client(SHIPPIT)._sleep = provider_recovers

    result = services.refresh_order(order)

    stats = shop.sandbox.stats()
    assert len(delays) == 1 and 0 < delays[0] <= 1.0
    assert server_errors(stats) == 1
    assert stats["statuses"]["200"] == 1
    assert result.order.refresh_failures == 0


def test_place_order_is_not_retried_on_a_server_error_and_its_outcome_is_unknown(shop):
    shop.configure(SHIPPIT, MAX_RETRIES=3)
    shop.sandbox.set_faults(fail_rate=1)

    with raises_without_secrets(SubmissionOutcomeUnknown):
        services.place_order(SHIPPIT, order_payload())

    assert shop.sandbox.stats()["routes"] == {POST_ORDER[SHIPPIT]: 1}
    local = Order.objects.get()
    assert local.placement == Order.Placement.UNKNOWN
    assert local.reference is None


# -- rate_limit: 429 ----------------------------------------------------------------------


def test_rate_limit_past_the_retries_is_rate_limited_with_retry_after(shop):
    shop.configure(SHIPPIT, MAX_RETRIES=0)
    order = placed(shop)
    shop.sandbox.set_faults(rate_limit=1)
    services.refresh_order(order)

    with raises_without_secrets(RateLimited) as info:
        services.refresh_order(order)

    assert info.value.status_code == 429
    assert info.value.code == "too_many_requests"
    assert info.value.retry_after >= 1 and info.value.retry_after <= 60
    assert shop.sandbox.stats()["throttled"] == 1


def test_rate_limited_request_is_retried_after_the_retry_after_delay(shop):
    shop.configure(SHIPPIT, MAX_RETRIES=2)
    order = placed(shop)
    # 60 simulated seconds per real second: the sandbox's window frees in 1 real second.
    shop.sandbox.set_speed(60)
    shop.sandbox.set_faults(rate_limit=1)
    services.refresh_order(order)
    delays = shop.record_sleeps(SHIPPIT)
    started = time.monotonic()

    services.refresh_order(order)

    elapsed = time.monotonic() - started
    stats = shop.sandbox.stats()
    assert delays == [1.0]  # the client's backoff is the Retry-After header, not its own
    assert stats["throttled"] == 1
    assert stats["statuses"]["200"] == 2
    # The client's sleep is recorded, not slept: the shared rate limiter held the
    # retry back until the Retry-After had passed.
    assert elapsed >= 0.9


# -- latency -------------------------------------------------------------------------------


@pytest.mark.parametrize("alias", [SHIPPIT, SENDERLV])
def test_latency_slows_every_call_down_and_it_still_succeeds(shop, alias):
    order = placed(shop, alias)
    shop.sandbox.set_faults(latency_ms=300)
    started = time.monotonic()

    result = services.refresh_order(order)

    assert time.monotonic() - started >= 0.3
    assert result.order.pk == order.pk
    assert shop.sandbox.stats()["statuses"] == {"200": 1}


# -- garbage_rate: a 200 that is not JSON -------------------------------------------------


@pytest.mark.parametrize("alias", [SHIPPIT, SENDERLV])
def test_garbage_answer_is_invalid_provider_response(shop, alias):
    shop.configure(alias, MAX_RETRIES=3)
    order = placed(shop, alias)
    shop.sandbox.set_faults(garbage_rate=1)

    with raises_without_secrets(InvalidProviderResponse) as info:
        services.refresh_order(order)

    assert info.value.status_code == 200
    assert shop.sandbox.stats()["routes"] == {GET_ORDER[alias]: 1}  # a 200 is not retried
    order.refresh_from_db()
    assert order.state == "processing"
    assert order.refresh_failures == 1


def test_garbage_answer_to_place_order_leaves_the_outcome_unknown(shop):
    # The sandbox created the order; only its answer was spoiled. "Rejected" would
    # invite placing it again and shipping twice.
    shop.sandbox.set_faults(garbage_rate=1)

    with raises_without_secrets(SubmissionOutcomeUnknown) as info:
        services.place_order(SHIPPIT, order_payload())

    assert isinstance(info.value.__cause__, InvalidProviderResponse)
    local = Order.objects.get()
    assert local.placement == Order.Placement.UNKNOWN
    assert len(shop.sandbox.orders()) == 1
    assert shop.sandbox.stats()["routes"] == {POST_ORDER[SHIPPIT]: 1}


# -- timeout_rate: no answer ----------------------------------------------------------------


@pytest.mark.parametrize("alias", [SHIPPIT, SENDERLV])
def test_unanswered_request_is_provider_timeout_after_every_retry(shop, alias):
    shop.configure(alias, TIMEOUT=0.2, MAX_RETRIES=1)
    order = placed(shop, alias)
    shop.sandbox.set_faults(timeout_rate=1, timeout_seconds=0.6)
    started = time.monotonic()

    with raises_without_secrets(ProviderTimeout) as info:
        services.refresh_order(order)

    assert time.monotonic() - started < 0.6 * 2  # the client gave up, not the sandbox
    assert "timed out after 0.2 s" in str(info.value)
    assert shop.sandbox.stats()["faults"] == {"timeout": 2}
    order.refresh_from_db()
    assert order.refresh_failures == 1


@pytest.mark.parametrize("alias", [SHIPPIT, SENDERLV])
def test_place_order_timing_out_is_unknown_and_never_posted_again(shop, alias):
    shop.configure(alias, TIMEOUT=0.2, MAX_RETRIES=3)
    shop.sandbox.set_faults(timeout_rate=1, timeout_seconds=0.5)

    with raises_without_secrets(SubmissionOutcomeUnknown) as info:
        services.place_order(alias, order_payload())

    assert isinstance(info.value.__cause__, ProviderTimeout)
    local = Order.objects.get()
    assert local.placement == Order.Placement.UNKNOWN
    assert local.reference is None
    assert "timed out" in local.last_error
    # The sandbox counts a held request when it lets go of it.
    assert wait_until(lambda: shop.sandbox.stats()["requests"] >= 1)
    time.sleep(0.3)  # room for a second POST, were one coming
    stats = shop.sandbox.stats()
    assert stats["routes"] == {POST_ORDER[alias]: 1}
    assert stats["faults"] == {"timeout": 1}
    assert stats["keys"] == {API_KEYS[alias]: 1}


def test_refresh_is_not_possible_for_an_order_whose_placement_is_unknown(shop):
    from django_shipping_orders.exceptions import OrderStateError

    shop.configure(SHIPPIT, TIMEOUT=0.2)
    shop.sandbox.set_faults(timeout_rate=1, timeout_seconds=0.4)
    with pytest.raises(SubmissionOutcomeUnknown):
        services.place_order(SHIPPIT, order_payload())
    shop.sandbox.set_faults(timeout_rate=0)

    with raises_without_secrets(OrderStateError):
        services.refresh_order(Order.objects.get())
