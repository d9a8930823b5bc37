"""System checks of what the app needs around it: django-q2's broker and SQLite's locking.

A new shop following the README gets these right; one that skips a line
learns it from ``manage.py check`` instead of from the first callback. Like
the other checks, they read settings only (``importlib.util.find_spec`` looks for a
module without importing it).
"""

from __future__ import annotations

import importlib.util
import numbers
from typing import Any

import django
from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

#: django-q2's brokers, in the order it picks them (``django_q.brokers.get_broker``), with
#: the module each needs. No key at all means Redis on localhost.
_BROKERS: tuple[tuple[str, str, str], ...] = (
    ("iron_mq", "IronMQ", "iron_mq"),
    ("sqs", "Amazon SQS", "boto3"),
    ("orm", "the database (ORM broker)", ""),
    ("mongo", "MongoDB", "pymongo"),
    ("django_redis", "Redis through django-redis", "django_redis"),
    ("redis", "Redis", "redis"),
)


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package is missing, or the name is empty
        return False


@register(Tags.compatibility)
def check_task_queue(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """django-q2 must be installed and have a broker it can reach: named, its library installed."""
    cluster = getattr(settings, "Q_CLUSTER", None)
    cluster = cluster if isinstance(cluster, dict) else {}
    messages = _cluster_setup(cluster)
    if cluster.get("sync"):
        return messages  # tasks run inline (tests): no broker is used
    return messages + _broker(cluster)


def _cluster_setup(cluster: dict[str, Any]) -> list[CheckMessage]:
    """E021 (django_q not installed), E022 (the ORM broker's database), W022 (retry, timeout)."""
    messages: list[CheckMessage] = []
    if not apps.is_installed("django_q"):
        messages.append(
            Error(
                '"django_q" is not in INSTALLED_APPS: label downloads, deferred callbacks and '
                "the scheduled refreshes are django-q2 tasks, and they need its tables.",
                hint='Add "django_q" to INSTALLED_APPS and run migrate. See README.md.',
                id="shipping_orders.E021",
            )
        )
    orm = cluster.get("orm")
    if (
        isinstance(orm, str)
        and orm
        and not cluster.get("broker_class")
        and orm not in (getattr(settings, "DATABASES", {}) or {})
    ):
        messages.append(
            Error(
                f"Q_CLUSTER['orm'] names the database {orm!r}, which is not in DATABASES: "
                "no task could be queued.",
                hint='Name a key of DATABASES ("orm": "default").',
                id="shipping_orders.E022",
            )
        )
    # django-q2 hands an unfinished task to another worker after ``retry`` s (60 by default).
    retry, timeout = _seconds(cluster.get("retry", 60)), _seconds(cluster.get("timeout"))
    if retry is not None and timeout is not None and retry <= timeout:
        messages.append(
            Warning(
                f"Q_CLUSTER's retry ({retry:g} s{'' if 'retry' in cluster else ', its default'}) "
                f"is not longer than its timeout ({timeout:g} s): a task still running is "
                "handed to another worker and runs twice.",
                hint="Set retry above timeout (the README uses timeout 120, retry 180).",
                id="shipping_orders.W022",
            )
        )
    return messages


def _seconds(value: Any) -> float | None:
    """``value`` as seconds if it is a number (not a bool), else None."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an integer past any float: longer than anything
            return float("inf") if str(value)[:1] != "-" else float("-inf")
    return None


def _broker(cluster: dict[str, Any]) -> list[CheckMessage]:
    """E020 / W020: the broker django-q2 would use, and whether its library is installed."""
    if cluster.get("broker_class"):
        path = str(cluster["broker_class"])
        module = path.rpartition(".")[0]
        if module and _importable(module):
            return []
        return [_missing_broker_library(f"the broker class {path!r}", module or path)]
    for key, name, module in _BROKERS:
        if cluster.get(key):
            if module and not _importable(module):
                return [_missing_broker_library(name, module)]
            return []
    orm_hint = (
        'Add "orm": "default" to Q_CLUSTER to queue tasks in the database (nothing else to run), '
        'or "redis": "redis://…" for Redis. See README.md and docs/scaling.md.'
    )
    if not _importable("redis"):
        return [
            Error(
                "Q_CLUSTER names no broker, so django-q2 uses Redis, but the redis package is "
                "not installed: the first callback or label download would fail.",
                hint=orm_hint,
                id="shipping_orders.E020",
            )
        ]
    return [
        Warning(
            "Q_CLUSTER names no broker, so django-q2 falls back to Redis on localhost:6379; "
            "callbacks and label downloads fail while that server is not running.",
            hint=orm_hint,
            id="shipping_orders.W020",
        )
    ]


def _missing_broker_library(name: str, module: str) -> Error:
    return Error(
        f"Q_CLUSTER uses {name}, but the Python module {module!r} is not installed.",
        hint="Install it (pip install django-shipping-orders[redis] for Redis), or use the "
        'ORM broker ("orm": "default").',
        id="shipping_orders.E020",
    )


@register(Tags.compatibility)
def check_sqlite(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """SQLite must wait for its write lock: the web server and qcluster write at the same time.

    Settings only: Django runs ``database``-tagged checks only when asked for
    them, and this one needs no connection.
    """
    return sqlite_messages(getattr(settings, "DATABASES", {}) or {})


def sqlite_messages(databases: dict[str, Any]) -> list[CheckMessage]:
    """W021 for each SQLite database of ``databases`` that would fail instead of waiting."""
    messages: list[CheckMessage] = []
    for alias, database in databases.items():
        if not str(database.get("ENGINE", "")).endswith("sqlite3"):
            continue
        options = database.get("OPTIONS") or {}
        missing = []
        if "timeout" not in options:
            missing.append('"timeout": 20')
        if django.VERSION >= (5, 1) and str(options.get("transaction_mode", "")).upper() != (
            "IMMEDIATE"
        ):
            missing.append('"transaction_mode": "IMMEDIATE"')
        if missing:
            messages.append(
                Warning(
                    f"Database {alias!r} is SQLite without a lock timeout and immediate "
                    "transactions: the web server and qcluster write at the same time, and one "
                    "of them fails with 'database is locked'.",
                    hint=f"Set DATABASES[{alias!r}]['OPTIONS'] = {{{', '.join(missing)}}}, or use "
                    "PostgreSQL. See README.md.",
                    id="shipping_orders.W021",
                )
            )
    return messages
