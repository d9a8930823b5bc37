"""Minimal settings for the test suite. ``DATABASE_URL`` picks PostgreSQL or MariaDB."""

import os
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import django

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _database(url: str) -> dict:
    if not url:
        options: dict[str, object] = {"timeout": 30}
        if django.VERSION >= (5, 1):
            # BEGIN IMMEDIATE: concurrent writers wait for the lock instead of failing.
            options["transaction_mode"] = "IMMEDIATE"
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(
                Path(tempfile.gettempdir()) / f"shipping-orders-tests-{os.getpid()}.sqlite3"
            ),
            "OPTIONS": options,
            "TEST": {
                "NAME": str(
                    Path(tempfile.gettempdir()) / f"shipping-orders-test-{os.getpid()}.sqlite3"
                )
            },
        }
    parts = urlsplit(url)
    if parts.scheme in ("mysql", "mariadb"):
        try:
            import MySQLdb  # noqa: F401  (mysqlclient, when it could be built)
        except ImportError:
            # PyMySQL stands in where mysqlclient has no headers to build against.
            import pymysql

            pymysql.install_as_MySQLdb()
    engine = {
        "postgres": "django.db.backends.postgresql",
        "postgresql": "django.db.backends.postgresql",
        "mysql": "django.db.backends.mysql",
        "mariadb": "django.db.backends.mysql",
    }[parts.scheme]
    return {
        "ENGINE": engine,
        "NAME": unquote(parts.path.lstrip("/")) or "test",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        # TEST_DATABASE_NAME lets two checkouts run the suite on one server at once.
        "TEST": {
            "NAME": os.environ.get("TEST_DATABASE_NAME")
            or f"test_shipping_orders_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
        },
    }


DATABASES = {"default": _database(os.environ.get("DATABASE_URL", ""))}

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
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
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

STATIC_URL = "/static/"
MEDIA_ROOT = str(Path(tempfile.gettempdir()) / "shipping-orders-test-media")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

Q_CLUSTER = {
    "name": "shipping-tests",
    "orm": "default",
    "sync": True,
    "catch_up": False,
    "timeout": 60,
    "retry": 120,
}

SHIPPING_ORDERS = {
    "ACCOUNTS": {
        "default": {
            "PROVIDER": "shippit",
            "API_KEY": "test-api-key-do-not-log",
            "BASE_URL": "https://shippit.test/api/3",
            "CALLBACK_SECRETS": ["test-callback-secret"],
            "MAX_RETRIES": 2,
            "BACKOFF_FACTOR": 0,
        },
    },
    "LABEL_ROOT": str(Path(tempfile.gettempdir()) / "shipping-orders-test-labels"),
    # pytest is one process; the tests that start others (qcluster) use Redis.
    "SINGLE_PROCESS": True,
}
