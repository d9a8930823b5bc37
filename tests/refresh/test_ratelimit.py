"""The shared rate limit: never more than RATE_LIMIT requests in any window, whoever sends them."""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid

import pytest
from django.test import override_settings

from django_shipping_orders.conf import shipping_settings
from django_shipping_orders.exceptions import RateLimited
from django_shipping_orders.providers import get_provider
from django_shipping_orders.ratelimit import RateLimiter, SharedThrottle, prepaid

from .conftest import redis_available, redis_url
from .workers import spend_budget


def _account(rate: str, alias: str = "default"):
    with override_settings(
        SHIPPING_ORDERS={"ACCOUNTS": {alias: {"PROVIDER": "sandbox", "RATE_LIMIT": rate}}}
    ):
        return shipping_settings.account(alias)


class FakeClock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def busiest_window(stamps: list[float], window: float) -> int:
    stamps = sorted(stamps)
    best, start = 0, 0
    for end, stamp in enumerate(stamps):
        while stamps[start] <= stamp - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_try_acquire_stops_at_the_limit_and_frees_slots_as_the_window_slides():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    account = _account("5/m")
    assert [limiter.try_acquire(account) for _ in range(7)] == [True] * 5 + [False] * 2
    assert limiter.available(account) == 0
    clock.now += 30
    assert not limiter.try_acquire(account), "half a window later the five still count"
    clock.now += 35
    assert limiter.try_acquire(account), "a window (and one sub-window) later they do not"


def test_sub_windows_never_let_a_window_see_more_than_the_limit():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    account = _account("10/m")
    admitted = []
    for _ in range(3000):  # one attempt every 0.1 s for five minutes
        if limiter.try_acquire(account):
            admitted.append(clock.now)
        clock.now += 0.1
    assert busiest_window(admitted, 60) <= 10
    assert len(admitted) >= 45, "the budget is used, not wasted"


def test_the_limit_holds_across_threads():
    local = threading.local()

    def clock() -> float:  # records the moment each request counts at (see workers.py)
        local.last = time.time()
        return local.last

    limiter = RateLimiter(clock=clock)
    account = _account("40/2s")
    admitted: list[float] = []
    lock = threading.Lock()
    end = time.time() + 3

    def spend() -> None:
        while time.time() < end:
            if limiter.try_acquire(account):
                with lock:
                    admitted.append(local.last)
            else:
                time.sleep(0.001)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert busiest_window(admitted, 2.0) <= 40
    assert len(admitted) >= 40


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
    admitted = [stamp for result in results for stamp in result]
    assert busiest_window(admitted, 2.0) <= 30
    assert sum(1 for result in results if result) >= 2, "several processes shared the budget"
    assert len(admitted) >= 45


def test_acquire_sleeps_until_a_slot_frees():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    account = _account("2/m")
    assert limiter.acquire(account) and limiter.acquire(account)
    started = clock.now
    assert limiter.acquire(account, timeout=5)
    assert 60 <= clock.now - started <= 60 + 60 / 20 * 2


def test_acquire_gives_up_at_its_deadline():
    limiter = RateLimiter(sleep=lambda seconds: time.sleep(min(seconds, 0.01)))
    account = _account("1/h")
    assert limiter.acquire(account, timeout=0.1)
    started = time.monotonic()
    assert not limiter.acquire(account, timeout=0.2)
    assert time.monotonic() - started < 2


def test_a_429_pauses_the_account_then_halves_its_rate():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    account = _account("10/m")
    limiter.penalize(account, retry_after=20)
    assert not limiter.try_acquire(account)
    assert limiter.wait_time(account) == pytest.approx(20, abs=0.1)
    clock.now += 21
    admitted = sum(limiter.try_acquire(account) for _ in range(10))
    assert admitted == 5
    clock.now += 200
    assert sum(limiter.try_acquire(account) for _ in range(10)) == 10


def test_every_provider_client_spends_the_shared_budget(scripted_server):
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
        assert isinstance(provider.client.throttle, SharedThrottle)
        provider.client.throttle.max_wait = 0.05
        provider.get_order("PPX1")
        provider.get_order("PPX1")
        with pytest.raises(RateLimited) as err:
            provider.get_order("PPX1")
    assert "rate limit of account 'default'" in str(err.value)
    assert len(scripted_server.requests) == 2


def test_a_request_paid_for_by_the_engine_is_not_counted_twice(scripted_server):
    scripted_server.default = (200, {"tracking_number": "PPX1", "state": "processing"}, {})
    settings = {
        "ACCOUNTS": {
            "default": {"PROVIDER": "shippit", "BASE_URL": scripted_server.url, "RATE_LIMIT": "1/h"}
        }
    }
    with override_settings(SHIPPING_ORDERS=settings):
        provider = get_provider("default")
        limiter = provider.client.throttle.limiter
        account = shipping_settings.account("default")
        assert limiter.try_acquire(account)
        with prepaid("default"):
            provider.get_order("PPX1")
        assert limiter.available(account) == 0
    assert len(scripted_server.requests) == 1


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
        with pytest.raises(RateLimited):
            provider.get_order("PPX1")
        account = shipping_settings.account("default")
        assert provider.client.throttle.limiter.available(account) == 5 - 1
