"""A provider's Retry-After can pause an account's budget for RETRY_AFTER_MAX at most, on every store."""

from __future__ import annotations

import math
import uuid

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.core.management import call_command
from django.test import override_settings

from django_shipping_orders.exceptions import RateBudgetExhausted
from django_shipping_orders.ratelimit import LocalStore, RateLimiter, RedisStore, store_for
from django_shipping_orders.ratelimit.limiter import budget_key

from .conftest import redis_available, redis_url
from .test_ratelimit import FakeClock, _account, take

HUGE = [math.inf, 1e20, 999_999_999.0, 86_400.0]


@pytest.mark.parametrize("pause", HUGE)
def test_a_huge_penalty_pauses_the_local_budget_for_retry_after_max_at_most(pause):
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    account = _account("10/m")
    limiter.penalize(account, retry_after=pause)
    with pytest.raises(RateBudgetExhausted) as err:
        limiter.acquire(account, wait=0)
    assert err.value.retry_after <= 300
    clock.now += 301
    assert take(limiter, account) == [True]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("pause", [math.inf, 1e20])
def test_a_huge_penalty_is_stored_by_the_database_cache(pause):
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "shipping_rate_bound_cache",
        }
    }
    with override_settings(CACHES=caches):
        call_command("createcachetable", verbosity=0)
        clock = FakeClock()
        limiter = RateLimiter(clock=clock, sleep=clock.sleep)
        account = _account("10/m", API_KEY=f"db-{uuid.uuid4().hex}")
        limiter.penalize(account, retry_after=pause)  # no ValueError / OverflowError
        assert limiter.available(account) == 0
        clock.now += 301
        assert take(limiter, account) == [True]


@pytest.mark.skipif(not redis_available(), reason=f"Redis does not answer at {redis_url()}")
@pytest.mark.parametrize("pause", [math.inf, 1e20, 1e400])
def test_a_huge_penalty_on_redis_has_a_ttl_and_ends(pause):
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url(),
            "KEY_PREFIX": f"rl-bound-{uuid.uuid4().hex}",
        }
    }
    with override_settings(CACHES=caches):
        account = _account("3/m", API_KEY="redis-bound-key")
        limiter = RateLimiter()
        limiter.penalize(account, retry_after=pause)  # no ResponseError
        with pytest.raises(RateBudgetExhausted) as err:
            limiter.acquire(account, wait=0)
        assert err.value.retry_after <= 300
        store = store_for("default")
        state = store._keys(budget_key(account))[1]
        ttl = store._client.pttl(state)
        assert 0 < ttl <= (300 + 60) * 1000 + 1000
        limiter.reset(account)


class MyRedisCache(RedisCache):
    """A project's own Redis cache class."""


class MyLocMemCache(LocMemCache):
    """A project's own local-memory cache class."""


def test_a_subclass_of_a_known_backend_gets_that_backends_store():
    caches = {
        "default": {"BACKEND": "tests.refresh.test_ratelimit_bounds.MyLocMemCache"},
        "redis": {
            "BACKEND": "tests.refresh.test_ratelimit_bounds.MyRedisCache",
            "LOCATION": redis_url(),
        },
    }
    with override_settings(CACHES=caches):
        assert isinstance(store_for("default"), LocalStore)
        assert isinstance(store_for("redis"), RedisStore)  # no connection is made to build it


def _timed_out_slot_counts_one_more_window(limiter, clock, account):
    ticket = limiter.acquire(account, wait=0)
    ticket.finish(timed_out=True)
    clock.now += 61
    assert take(limiter, account) == [False], "it may still reach the provider"
    clock.now += 60
    assert take(limiter, account) == [True]


def test_a_timed_out_request_keeps_its_slot_one_more_window_in_local_memory():
    clock = FakeClock()
    _timed_out_slot_counts_one_more_window(
        RateLimiter(clock=clock, sleep=clock.sleep), clock, _account("1/m")
    )


def test_a_timed_out_request_keeps_its_slot_one_more_window_in_a_shared_cache(tmp_path):
    files = {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache"}
    with override_settings(CACHES={"default": {**files, "LOCATION": str(tmp_path)}}):
        clock = FakeClock()
        _timed_out_slot_counts_one_more_window(
            RateLimiter(clock=clock, sleep=clock.sleep), clock, _account("1/m")
        )


def test_the_client_keeps_a_timed_out_requests_slot(scripted_server):
    from django_shipping_orders.exceptions import ProviderTimeout
    from django_shipping_orders.providers import get_provider
    from tests.core.helpers import HangingServer, account

    server = HangingServer()
    try:
        with account(server.url + "/api/3", TIMEOUT=0.3, MAX_RETRIES=0, RATE_LIMIT="1/m"):
            clock = FakeClock()
            limiter = RateLimiter(clock=clock, sleep=clock.sleep)
            provider = get_provider("default")
            provider.client.limiter = limiter
            with pytest.raises(ProviderTimeout):
                provider.get_order("PPDOC0001")
            config = provider.client.account
            clock.now += 61
            assert limiter.available(config) == 0
            clock.now += 60
            assert limiter.available(config) == 1
    finally:
        server.close()
