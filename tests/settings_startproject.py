"""Settings as ``startproject`` leaves the database: SQLite with no options at all.

No ``timeout`` (the driver's 5 seconds) and no ``"transaction_mode": "IMMEDIATE"``:
a second writer fails at once with "database is locked" instead of waiting.
Used by the busy-shop placement scenario (tests/integration/busy_shop.py),
whose processes share one file: the web server taking callbacks, a qcluster
with the ORM broker running the schedules, and the process placing orders.
Everything else comes from the environment the scenario sets.
"""

import os

from tests.settings import INSTALLED_APPS, MIDDLEWARE, TEMPLATES  # noqa: F401

SECRET_KEY = "busy-shop-tests-only"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "/static/"

DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["BUSY_SHOP_DB"]}
}

Q_CLUSTER = {
    "name": "busy-shop",
    "orm": "default",
    "workers": 2,
    "timeout": 60,
    "retry": 120,
    "catch_up": False,
    "poll": 0.5,
}

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "shipping": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "shipping",  # a store of its own: unnamed, it would share "default"'s
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    },
}

SHIPPING_ORDERS = {
    "RATE_LIMIT_CACHE": "shipping",
    # The scenario is about database locks, not the rate limit: each process keeps its
    # own budget (what a startproject shop without a shared cache gets, check E010 aside).
    "SINGLE_PROCESS": True,
    "ACCOUNTS": {
        "sandbox": {
            "PROVIDER": "sandbox",
            "BASE_URL": os.environ["BUSY_SHOP_SANDBOX_URL"],
            "API_KEY": os.environ["BUSY_SHOP_SANDBOX_KEY"],
            "CALLBACK_SECRETS": [os.environ["BUSY_SHOP_CALLBACK_SECRET"]],
            "RATE_LIMIT": "100000/h",
            "MAX_RETRIES": 1,
            "BACKOFF_FACTOR": 0,
        }
    },
    "LABEL_ROOT": os.environ["BUSY_SHOP_LABELS"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "ERROR"},
}
