"""Code run in child processes by the multi-process rate limit test (importable, no test here)."""

from __future__ import annotations

import time
from typing import Any


def spend_budget(redis_url: str, prefix: str, rate: str, seconds: float, out: Any) -> None:
    """Configure a bare Django with a Redis cache, then take every slot offered for ``seconds``."""
    import django
    from django.conf import settings

    settings.configure(
        USE_TZ=True,
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_url,
                "KEY_PREFIX": prefix,
            }
        },
        SHIPPING_ORDERS={
            "ACCOUNTS": {"default": {"PROVIDER": "sandbox", "API_KEY": "k", "RATE_LIMIT": rate}}
        },
    )
    django.setup()
    from django_shipping_orders.conf import shipping_settings
    from django_shipping_orders.exceptions import RateBudgetExhausted
    from django_shipping_orders.ratelimit import RateLimiter

    limiter = RateLimiter()
    account = shipping_settings.account("default")
    arrived = []
    end = time.time() + seconds
    while time.time() < end:
        try:
            ticket = limiter.acquire(account, wait=0)
        except RateBudgetExhausted:
            time.sleep(0.002)
            continue
        # What a provider would stamp: a moment between the send and the answer.
        arrived.append(time.time())
        ticket.finish()
    out.put(arrived)
