"""The shared rate limit: never more than RATE_LIMIT requests in any window, whoever sends them.

The limiter's own figures are checked here with fake and real clocks; the
tests in test_provider_meter.py judge it from the provider's side.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
import uuid

import pytest
from django.core.management import call_command
from django.db import connections
from django.test import override_settings

from django_shipping_orders.conf import shipping_settings
from django_shipping_orders.exceptions import RateBudgetExhausted, RateLimited
from django_shipping_orders.providers import get_provider
from django_shipping_orders.ratelimit import RateLimiter, RedisStore, store_for
from django_shipping_orders.sandbox.meter import busiest_window

from .conftest import redis_available, redis_url
from .workers import spend_budget


def _account(rate: str, alias: str = "default", **extra):
    account = {"PROVIDER": "sandbox", "RATE_LIMIT": rate, **extra}
    with override_settings(SHIPPING_ORDERS={"ACCOUNTS": {alias: account}}):
        return shipping_settings.account(alias)


class FakeClock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def take(limiter: RateLimiter, account, count: int = 1) -> list[bool]:
    """Try ``count`` requests at once, each answered at once; which were admitted."""
    admitted = []
    for _ in range(count):
        try:
            ticket = limiter.acquire(account, wait=0)
        except RateBudgetExhausted:
            admitted.append(False)
        else:
            ticket.finish()
            admitted.append(True)
    return admitted


def test_the_budget_stops_at_the_limit_and_frees_slots_as_the_window_slides():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    account = _account("5/m")
    assert take(limiter, account, 7) == [True] * 5 + [False] * 2
    assert limiter.available(account) == 0
    clock.now += 30
    assert take(limiter, account) == [False], "half a window later the five still count"
    clock.now += 30.001
    assert take(limiter, account, 6) == [True] * 5 + [False], "a window later they do not"


def test_a_refusal_says_when_to_come_back_and_sends_nothing():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    account = _account("2/m")
    take(limiter, account, 2)
    clock.now += 20
    with pytest.raises(RateBudgetExhausted) as err:
        limiter.acquire(account, wait=0)
    assert err.value.retry_after == pytest.approx(40, abs=0.01)
    assert err.value.account == "default"
    assert "nothing was sent" in str(err.value)


def test_a_request_counts_from_when_it_is_sent_until_a_window_after_its_answer():
    """The provider saw it between the two: both ends must be inside our count."""
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    account = _account("1/10s", TIMEOUT=30.0)
    slow = limiter.acquire(account, wait=0)
    clock.now += 25  # a slow answer: still in flight, still counted
    assert take(limiter, account) == [False]
    slow.finish()
    clock.now += 9.9
    assert take(limiter, account) == [False], "one window after the answer, not the send"
    clock.now += 0.2
    assert take(limiter, account) == [True]


def test_a_request_never_answered_stops_counting_after_its_timeouts_and_a_window():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    account = _account("1/10s", CONNECT_TIMEOUT=1.0, TIMEOUT=4.0)
    limiter.acquire(account, wait=0)  # its process died: never finished
    clock.now += 5 + 9.9
    assert take(limiter, account) == [False]
    clock.now += 0.2
    assert take(limiter, account) == [True]


def test_no_window_of_arrivals_exceeds_the_limit_whatever_the_network_delay():
    """Simulated requests with random send times and delays: arrivals judged like a provider."""
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    account = _account("10/m")
    rng = random.Random(5)
    in_flight: list[tuple[float, float, object]] = []  # (answer time, arrival, ticket)
    arrivals: list[float] = []
    for _ in range(6000):  # one attempt every 0.05 s for five minutes
        clock.now += 0.05
        for done in [f for f in in_flight if f[0] <= clock.now]:
            in_flight.remove(done)
            done[2].finish()
        try:
            ticket = limiter.acquire(account, wait=0)
        except RateBudgetExhausted:
            continue
        latency = rng.uniform(0, 3)
        arrivals.append(clock.now + rng.uniform(0, latency))
        in_flight.append((clock.now + latency, arrivals[-1], ticket))
    assert busiest_window(arrivals, 60) <= 10
    assert len(arrivals) >= 40, "the budget is used, not wasted"


def test_the_limit_holds_across_threads():
    limiter = RateLimiter()
    account = _account("40/2s")
    arrived: list[float] = []
    lock = threading.Lock()
    end = time.time() + 3

    def spend() -> None:
        while time.time() < end:
            try:
                ticket = limiter.acquire(account, wait=0)
            except RateBudgetExhausted:
                time.sleep(0.001)
                continue
            with lock:
                arrived.append(time.time())  # between the send and the answer
            ticket.finish()

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert busiest_window(arrived, 2.0) <= 40
    assert len(arrived) >= 40


@pytest.mark.skipif(not redis_available(), reason=f"Redis does not answer at {redis_url()}")
def test_the_limit_holds_across_processes_sharing_redis():
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    prefix = f"rl-test-{uuid.uuid4().hex}"
    processes = [
        context.Process(target=spend_budget, args=(redis_url(), prefix, "30/2s", 4.0, out))
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    results = [out.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(10)
    arrived = [stamp for result in results for stamp in result]
    assert busiest_window(arrived, 2.0) <= 30
    assert sum(1 for result in results if result) >= 2, "several processes shared the budget"
    assert len(arrived) >= 45


@pytest.mark.skipif(not redis_available(), reason=f"Redis does not answer at {redis_url()}")
def test_on_redis_the_log_is_one_sorted_set_changed_atomically():
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url(),
            "KEY_PREFIX": f"rl-test-{uuid.uuid4().hex}",
        }
    }
    with override_settings(CACHES=caches):
        account = _account("3/m", API_KEY="redis-key")
        limiter = RateLimiter()
        assert isinstance(store_for("default"), RedisStore)
        assert take(limiter, account, 4) == [True, True, True, False]
        assert limiter.available(account) == 0
        limiter.reset(account)
        assert limiter.available(account) == 3
        limiter.penalize(account, retry_after=30)
        assert limiter.available(account) == 0
        with pytest.raises(RateBudgetExhausted) as err:
            limiter.acquire(account, wait=0)
        assert 29 <= err.value.retry_after <= 30


@pytest.mark.django_db(transaction=True)
def test_the_database_cache_shares_the_budget_under_its_lock():
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "shipping_rate_test_cache",
        }
    }
    with override_settings(CACHES=caches):
        call_command("createcachetable", verbosity=0)
        account = _account("5/m", API_KEY="db-key")
        results: list[bool] = []
        lock = threading.Lock()

        def spend() -> None:
            try:
                got = take(RateLimiter(), account, 4)
                with lock:
                    results.extend(got)
            finally:
                connections.close_all()  # each thread had a connection of its own

        threads = [threading.Thread(target=spend) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results.count(True) == 5
        assert RateLimiter().available(account) == 0


def test_acquire_sleeps_until_a_slot_frees():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    account = _account("2/m")
    take(limiter, account, 2)
    started = clock.now
    limiter.acquire(account, wait=None).finish()
    assert 60 <= clock.now - started <= 62


def test_acquire_gives_up_at_once_when_the_wait_cannot_be_enough():
    slept: list[float] = []
    limiter = RateLimiter(sleep=slept.append)
    account = _account("1/h")
    take(limiter, account)
    with pytest.raises(RateBudgetExhausted) as err:
        limiter.acquire(account, wait=5)
    assert slept == [], "no point sleeping 5 s for a slot due in an hour"
    assert err.value.retry_after > 3500


def test_a_429_pauses_the_account_then_halves_its_rate():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    account = _account("10/m")
    limiter.penalize(account, retry_after=20)
    with pytest.raises(RateBudgetExhausted) as err:
        limiter.acquire(account, wait=0)
    assert err.value.retry_after == pytest.approx(20, abs=0.1)
    clock.now += 21
    assert take(limiter, account, 10).count(True) == 5
    clock.now += 200
    assert take(limiter, account, 10).count(True) == 10


def test_two_aliases_with_one_api_key_share_one_budget_as_the_provider_does():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    shop = _account("3/m", "shop", API_KEY="same-key")
    admin = _account("3/m", "admin", API_KEY="same-key")
    other = _account("3/m", "other", API_KEY="another-key")
    assert take(limiter, shop, 2) == [True, True]
    assert take(limiter, admin, 2) == [True, False]
    assert take(limiter, other, 3) == [True] * 3


def test_the_client_takes_a_slot_for_every_request_it_sends(scripted_server):
    scripted_server.default = (200, {"tracking_number": "PPX1", "state": "processing"}, {})
    settings = {
        "ACCOUNTS": {
            "default": {
                "PROVIDER": "shippit",
                "BASE_URL": scripted_server.url,
                "RATE_LIMIT": "2/h",
                "MAX_RETRIES": 0,
            }
        }
    }
    with override_settings(SHIPPING_ORDERS=settings):
        provider = get_provider("default")
        assert isinstance(provider.client.limiter, RateLimiter), "handed in by the constructor"
        provider.get_order("PPX1")
        provider.get_order("PPX1")
        with pytest.raises(RateBudgetExhausted) as err:
            provider.with_wait(0.05).get_order("PPX1")
    assert "rate limit of account 'default'" in str(err.value)
    assert err.value.reference == "PPX1"
    assert len(scripted_server.requests) == 2


def test_a_429_from_the_provider_slows_the_account_down(scripted_server):
    scripted_server.add(429, {"error": "too_many_requests"}, {"Retry-After": "0"})
    settings = {
        "ACCOUNTS": {
            "default": {
                "PROVIDER": "shippit",
                "BASE_URL": scripted_server.url,
                "RATE_LIMIT": "10/h",
                "MAX_RETRIES": 0,
            }
        }
    }
    with override_settings(SHIPPING_ORDERS=settings):
        provider = get_provider("default")
        with pytest.raises(RateLimited) as err:
            provider.get_order("PPX1")
        assert not isinstance(err.value, RateBudgetExhausted), "the provider said it"
        account = shipping_settings.account("default")
        assert provider.client.limiter.available(account) == 5 - 1


def test_a_429_that_outlasts_the_callers_wait_is_raised_at_once(scripted_server):
    scripted_server.add(429, {"error": "too_many_requests"}, {"Retry-After": "30"})
    settings = {
        "ACCOUNTS": {
            "default": {
                "PROVIDER": "shippit",
                "BASE_URL": scripted_server.url,
                "RATE_LIMIT": "10/h",
                "MAX_RETRIES": 3,
            }
        }
    }
    with override_settings(SHIPPING_ORDERS=settings):
        provider = get_provider("default").with_wait(5)
        slept: list[float] = []
        provider.client._sleep = slept.append
        with pytest.raises(RateLimited) as err:
            provider.get_order("PPX1")
    assert err.value.status_code == 429 and err.value.retry_after == 30
    assert slept == [] and len(scripted_server.requests) == 1


# -- the calls a web request makes wait a few seconds at most -------------------------------


@pytest.fixture
def spent_account(scripted_server):
    """An account whose one request an hour has just been spent."""
    settings = {
        "ACCOUNTS": {
            "default": {
                "PROVIDER": "shippit",
                "API_KEY": "spent-key",
                "BASE_URL": scripted_server.url + "/api/3",
                "RATE_LIMIT": "1/h",
            }
        }
    }
    with override_settings(SHIPPING_ORDERS=settings):
        account = shipping_settings.account("default")
        RateLimiter().acquire(account, wait=0).finish()
        yield scripted_server


@pytest.mark.django_db
def test_place_order_raises_at_once_when_the_budget_is_spent_and_leaves_nothing(spent_account):
    from django_shipping_orders import services
    from django_shipping_orders.models import Order

    started = time.monotonic()
    with pytest.raises(RateBudgetExhausted) as err:
        services.place_order("default", {"retailer_reference": "WEB-1"})
    assert time.monotonic() - started < services.SERVICE_WAIT
    assert err.value.retry_after > 3000
    assert spent_account.requests == []
    assert not Order.objects.exists(), "nothing was sent, so no order to check"


@pytest.mark.django_db
def test_cancel_order_waits_only_its_budget(spent_account):
    from django_shipping_orders import services
    from django_shipping_orders.models import Order

    order = Order.objects.create(account="default", reference="PPX1", state="processing")
    with pytest.raises(RateBudgetExhausted):
        services.cancel_order(order, wait=0.2)
    order.refresh_from_db()
    assert order.last_error == "" and spent_account.requests == []


def test_the_default_wait_of_web_calls_is_short():
    import inspect

    from django_shipping_orders import services

    for function in (services.place_order, services.cancel_order, services.refresh_order):
        assert inspect.signature(function).parameters["wait"].default == services.SERVICE_WAIT
    assert services.SERVICE_WAIT <= 10


def _take_share(limiter: RateLimiter, account, share: float, count: int) -> list[bool]:
    admitted = []
    for _ in range(count):
        try:
            limiter.acquire(account, wait=0, share=share).finish()
        except RateBudgetExhausted:
            admitted.append(False)
        else:
            admitted.append(True)
    return admitted


def test_requests_with_a_share_fill_only_that_share_and_leave_the_rest_to_the_others():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    account = _account("10/m")
    # Spare polls at half the limit: five, whoever asks (two runs asking at once included).
    assert _take_share(limiter, account, 0.5, 4) == [True] * 4
    assert _take_share(limiter, account, 0.5, 4) == [True] + [False] * 3
    # The reserve is still there for a request without a share (placing an order).
    assert take(limiter, account, 6) == [True] * 5 + [False]
    clock.now += 60.001
    assert _take_share(limiter, account, 0.5, 6) == [True] * 5 + [False]


def test_a_share_that_leaves_no_slot_sends_nothing_and_says_so():
    limiter = RateLimiter(clock=FakeClock())
    account = _account("3/m")
    with pytest.raises(RateBudgetExhausted, match=r"limited to 0\.2 of it"):
        limiter.acquire(account, wait=0, share=0.2)
    assert limiter.available(account) == 3
