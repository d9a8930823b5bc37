"""Settings of the ``qcluster`` processes started by tests/refresh/test_qcluster.py.

PostgreSQL (the test database the test process created), the Redis broker and
a Redis cache for the shared rate limit, and the sandbox the test started;
everything comes from the environment the test sets.
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES

DATABASES["default"]["NAME"] = os.environ["SHIPPING_TEST_DB_NAME"]

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": os.environ["QCLUSTER_NAME"],
    }
}

Q_CLUSTER = {
    "name": os.environ["QCLUSTER_NAME"],
    "redis": REDIS_URL,
    "workers": 2,
    "sync": False,
    "catch_up": False,
    "timeout": 60,
    "retry": 120,
    "poll": 0.2,
}

SHIPPING_ORDERS = {
    "ACCOUNTS": {
        "default": {
            "PROVIDER": "sandbox",
            "API_KEY": os.environ["QCLUSTER_SANDBOX_KEY"],
            "BASE_URL": os.environ["QCLUSTER_SANDBOX_URL"],
            "MAX_RETRIES": int(os.environ.get("QCLUSTER_MAX_RETRIES", "0")),
            "RATE_LIMIT": os.environ.get("QCLUSTER_RATE_LIMIT", "10000/m"),
        }
    },
    "REFRESH_WORKERS": 2,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
