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
    from django_shipping_orders.ratelimit import RateLimiter

    last = [0.0]

    def clock() -> float:
        # The limiter's last reading of an admitted request is taken right after
        # its increment: that is the moment the request counts at.
        last[0] = time.time()
        return last[0]

    limiter = RateLimiter(clock=clock)
    account = shipping_settings.account("default")
    admitted = []
    end = time.time() + seconds
    while time.time() < end:
        if limiter.try_acquire(account):
            admitted.append(last[0])
        else:
            time.sleep(0.002)
    out.put(admitted)
