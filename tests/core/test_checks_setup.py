"""Checks of what the app needs around it, and settings mistakes reported as checks, never tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from django_shipping_orders.checks import check_settings, environment

ROOT = Path(__file__).resolve().parents[2]
SHARED_CACHE = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}}
GOOD = {"PROVIDER": "shippit", "API_KEY": "k", "CALLBACK_SECRETS": ["s"]}
SQLITE_OK = {"timeout": 20, "transaction_mode": "IMMEDIATE"}


def ids(messages):
    return sorted(message.id for message in messages)


def queue_messages(cluster, *, missing=()):
    real = environment._importable

    def importable(module: str) -> bool:
        return module not in missing and real(module)

    with override_settings(Q_CLUSTER=cluster):
        environment._importable = importable
        try:
            messages = environment.check_task_queue()
        finally:
            environment._importable = real
    for message in messages:
        assert message.hint
    return messages


def test_the_orm_broker_passes():
    assert queue_messages({"name": "shop", "orm": "default"}) == []


def test_w020_no_broker_named_falls_back_to_redis_on_localhost():
    [message] = queue_messages({"name": "shop"})
    assert message.id == "shipping_orders.W020"
    assert "localhost:6379" in message.msg
    assert '"orm": "default"' in message.hint


def test_e020_no_broker_named_and_no_redis_package_is_an_error():
    [message] = queue_messages({"name": "shop"}, missing=("redis",))
    assert message.id == "shipping_orders.E020"
    assert "redis package is not installed" in message.msg


def test_e020_no_q_cluster_setting_at_all():
    with override_settings():
        from django.conf import settings

        del settings.Q_CLUSTER
        real = environment._importable
        environment._importable = lambda module: module != "redis" and real(module)
        try:
            assert ids(environment.check_task_queue()) == ["shipping_orders.E020"]
        finally:
            environment._importable = real


@pytest.mark.parametrize(
    ("cluster", "module"),
    [
        ({"redis": {"host": "redis"}}, "redis"),
        ({"django_redis": "default"}, "django_redis"),
        ({"sqs": {"aws_region": "eu-west-1"}}, "boto3"),
        ({"mongo": {"host": "mongo"}}, "pymongo"),
        ({"broker_class": "nowhere.brokers.Custom"}, "nowhere.brokers"),
    ],
)
def test_e020_a_named_broker_whose_library_is_missing(cluster, module):
    [message] = queue_messages({"name": "shop", **cluster}, missing=(module,))
    assert message.id == "shipping_orders.E020"
    assert repr(module) in message.msg


def test_sync_mode_uses_no_broker():
    assert queue_messages({"name": "tests", "sync": True}, missing=("redis",)) == []


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"timeout": 20},
        {"transaction_mode": "IMMEDIATE"},
        {"timeout": 20, "transaction_mode": "DEFERRED"},
    ],
)
def test_w021_sqlite_without_a_lock_timeout_and_immediate_transactions(options):
    database = {"ENGINE": "django.db.backends.sqlite3", "NAME": "x.sqlite3", "OPTIONS": options}
    [message] = environment.sqlite_messages({"default": database})
    assert message.id == "shipping_orders.W021"
    assert "PostgreSQL" in message.hint


def test_sqlite_with_the_readme_options_and_other_databases_pass():
    databases = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "x", "OPTIONS": SQLITE_OK},
        "pg": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop"},
    }
    assert environment.sqlite_messages(databases) == []
    assert environment.check_sqlite() == []  # the suite's own settings


def test_every_mistake_of_an_account_is_reported_at_once():
    account = {"PROVIDER": "fedex", "TIMEOUT": "soon", "RATE_LIMIT": "sixty", "API_KEYS": "x"}
    with override_settings(
        SHIPPING_ORDERS={"ACCOUNTS": {"a": account}, "LABEL_STORGE": "x"}, CACHES=SHARED_CACHE
    ):
        messages = check_settings()
    assert ids(messages) == [
        "shipping_orders.E002",  # the provider
        "shipping_orders.E003",  # no API_KEY
        "shipping_orders.E004",  # the rate limit
        "shipping_orders.E006",  # the account's unknown key
        "shipping_orders.E006",  # the top-level unknown key
        "shipping_orders.E007",  # TIMEOUT's type
        "shipping_orders.W001",  # no callback secrets
    ]
    top = next(m for m in messages if "LABEL_STORGE" in m.msg)
    assert "Did you mean: LABEL_STORGE -> LABEL_STORAGE?" in top.hint


def test_a_wrong_type_is_not_reported_twice():
    account = {**GOOD, "API_KEY": 42, "CALLBACK_SECRETS": 7}
    with override_settings(SHIPPING_ORDERS={"ACCOUNTS": {"a": account}}, CACHES=SHARED_CACHE):
        messages = check_settings()
    assert ids(messages) == ["shipping_orders.E007", "shipping_orders.E007"]


@pytest.mark.parametrize(
    ("setting", "text"),
    [
        ({"LABEL_STORAGE": "s3"}, "names 's3', which is not in STORAGES"),
        (
            {"API_PERMISSION_CLASSES": ["nowhere.IsWarehouse"]},
            "cannot import 'nowhere.IsWarehouse'",
        ),
        ({"REFRESH": [1]}, "['REFRESH'] must be a dict of name -> seconds, got list"),
    ],
)
def test_names_that_must_exist_elsewhere(setting, text):
    with override_settings(
        SHIPPING_ORDERS={"ACCOUNTS": {"a": GOOD}, **setting}, CACHES=SHARED_CACHE
    ):
        [message] = check_settings()
    assert text in message.msg


MISTAKES = """
from tests.settings import *
SHIPPING_ORDERS = {
    **SHIPPING_ORDERS,
    "LABEL_STORGE": "x",
    "REFRESH_WORKERS": "4",
    "ACCOUNTS": {"bad": {"PROVIDER": "nope", "TIMEOUT": "x", "RATE_LIMIT": "sixty"}},
}
"""


def test_manage_py_with_settings_mistakes_prints_checks_not_a_traceback(tmp_path):
    (tmp_path / "mistakes.py").write_text(MISTAKES)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
        "DJANGO_SETTINGS_MODULE": "mistakes",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
    }
    result = subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--plan"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    for check in ("E002", "E003", "E004", "E006", "E007"):
        assert f"(shipping_orders.{check})" in result.stderr
    assert "LABEL_STORGE" in result.stderr and "REFRESH_WORKERS" in result.stderr


def test_e021_django_q_must_be_installed(settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "django_q"]
    messages = queue_messages({"name": "shop", "orm": "default"})
    assert ids(messages) == ["shipping_orders.E021"]
    assert "INSTALLED_APPS" in messages[0].hint


def test_e022_the_orm_broker_must_name_a_database():
    [message] = queue_messages({"name": "shop", "orm": "tasks"})
    assert message.id == "shipping_orders.E022"
    assert "'tasks'" in message.msg


@pytest.mark.parametrize(
    ("timeout", "retry", "warned"), [(120, 120, True), (120, 60, True), (120, 180, False)]
)
def test_w022_retry_must_outlast_the_timeout(timeout, retry, warned):
    cluster = {"name": "shop", "orm": "default", "timeout": timeout, "retry": retry}
    messages = queue_messages(cluster)
    assert ids(messages) == (["shipping_orders.W022"] if warned else [])


def test_a_task_queue_running_inline_still_needs_django_q_installed(settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "django_q"]
    assert ids(queue_messages({"name": "shop", "sync": True})) == ["shipping_orders.E021"]


def test_e021_is_satisfied_by_the_app_config_path(settings):
    apps = [app for app in settings.INSTALLED_APPS if app != "django_q"]
    settings.INSTALLED_APPS = [*apps, "django_q.apps.DjangoQConfig"]
    assert queue_messages({"name": "shop", "orm": "default"}) == []


def test_w022_the_default_retry_of_60_s_is_below_a_timeout_of_120():
    messages = queue_messages({"name": "shop", "orm": "default", "timeout": 120})
    assert ids(messages) == ["shipping_orders.W022"]
    assert "its default" in messages[0].msg


@pytest.mark.parametrize("orm", [["default"], {"db": "default"}, 3])
def test_an_orm_broker_of_the_wrong_type_never_crashes_the_check(orm):
    queue_messages({"name": "shop", "orm": orm})


def test_w022_with_a_timeout_past_any_float_never_crashes():
    messages = queue_messages({"name": "shop", "orm": "default", "timeout": 10**400})
    assert ids(messages) == ["shipping_orders.W022"]
