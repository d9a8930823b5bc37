"""The example shop: SQLite, django-q2 with its ORM broker, two accounts on the sandbox.

Not for production: DEBUG is on and the secrets below are demo values.
Environment: SANDBOX_URL (default http://127.0.0.1:8765), DEMO_APP_URL
(default http://127.0.0.1:8000), DEMO_FAST=1 shortens the refresh policy for
the accelerated demo.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "example-shop-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
USE_TZ = True
TIME_ZONE = "Australia/Sydney"
ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_q",
    "django_shipping_orders",
    "shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_DB", str(BASE_DIR / "db.sqlite3")),
        "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
    }
}

STATIC_URL = "/static/"
MEDIA_ROOT = str(BASE_DIR / "media")
X_FRAME_OPTIONS = "SAMEORIGIN"  # the admin embeds the label PDF

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "shop_cache"},
    # The rate budget in a table of its own: the site's cache culling never evicts it.
    "shipping": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "shipping_rate_cache",
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    },
}

Q_CLUSTER = {
    "name": "shop",
    "orm": "default",
    "workers": 2,
    "timeout": 120,
    "retry": 180,
    "catch_up": False,
    "poll": 0.5,
}

SANDBOX_URL = os.environ.get("SANDBOX_URL", "http://127.0.0.1:8765").rstrip("/")
DEMO_APP_URL = os.environ.get("DEMO_APP_URL", "http://127.0.0.1:8000").rstrip("/")

SHIPPING_ORDERS = {
    "ACCOUNTS": {
        # Shippit's dialect: a Bearer key; the webhook carries the secret in a header.
        "au-warehouse": {
            "PROVIDER": "sandbox",
            "BASE_URL": f"{SANDBOX_URL}/api/3",
            "API_KEY": "demo-shippit-key",
            "CALLBACK_SECRETS": ["demo-shippit-callback-secret"],
            "RATE_LIMIT": "60/m",
        },
        # Sender.lv's dialect: it calls a plain URL, so the secret rides in the URL token.
        "riga-warehouse": {
            "PROVIDER": "sandbox-senderlv",
            "BASE_URL": f"{SANDBOX_URL}/api/v1",
            "API_KEY": "demo-senderlv-key",
            "CALLBACK_SECRETS": ["demo-senderlv-callback-token"],
            "LANGUAGE": "en",
            "RATE_LIMIT": "60/m",
        },
    },
    "LABEL_ROOT": str(BASE_DIR / "private-media"),
    "RATE_LIMIT_CACHE": "shipping",
}

# The fast demo (``shipping_demo --once``) runs the sandbox hundreds of times
# faster than real life; this policy follows, so that polling backs up lost
# callbacks within seconds. The command applies it to itself and sets
# DEMO_FAST=1 for the processes it starts.
DEMO_FAST_REFRESH = {
    "GRACE_PERIOD": 2,
    "PROCESSING_INITIAL": 2,
    "PROCESSING_MAX": 4,
    "AFTER_CALLBACK": 10,
    "LABELLED_INTERVAL": 10,
    "PICKUP_WINDOW": 5,
    "PICKUP_INTERVAL": 5,
    "MOVING_INTERVAL": 10,
    "WITH_DRIVER_INTERVAL": 5,
    "UNKNOWN_STATE_INTERVAL": 10,
    "ERROR_INITIAL": 2,
    "ERROR_MAX": 10,
    "LEASE": 30,
    "PROCESSING_PATIENCE": 60,
    "PROCESSING_STUCK_INTERVAL": 10,
}
if os.environ.get("DEMO_FAST"):
    SHIPPING_ORDERS["REFRESH"] = DEMO_FAST_REFRESH

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_shipping_orders": {"handlers": ["console"], "level": "INFO"}},
}
