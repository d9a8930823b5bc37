"""System checks: one test per id, each with a hint, none touching the database.

These tests carry no ``django_db`` mark, so pytest-django fails any of them
that makes a query.
"""

from __future__ import annotations

import pytest
from django.core import checks
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.test import override_settings

from django_shipping_orders.checks import check_settings

GOOD = {"PROVIDER": "shippit", "API_KEY": "k", "CALLBACK_SECRETS": ["s"]}


SHARED_CACHE = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}}


def run(setting, *, debug=False, caches=SHARED_CACHE):
    """The check's messages for ``setting``, with a cache all workers share by default."""
    with override_settings(DEBUG=debug, SHIPPING_ORDERS=setting, CACHES=caches):
        # No django_db mark: pytest-django makes any query fail this test.
        messages = check_settings()
    for message in messages:
        assert message.hint, f"{message.id} has no hint"
    return messages


def ids(messages):
    return sorted(message.id for message in messages)


def test_a_good_configuration_passes_every_check():
    assert run({"ACCOUNTS": {"default": GOOD}}) == []


def test_e011_dummy_rate_limit_cache_keeps_no_budget():
    dummy = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    messages = run({"ACCOUNTS": {"default": GOOD}}, caches=dummy)
    assert ids(messages) == ["shipping_orders.E011"]
    assert messages[0].level == checks.ERROR


@pytest.mark.parametrize("debug", [False, True])
def test_e010_local_memory_rate_limit_cache_is_refused_debug_or_not(debug):
    local = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    messages = run({"ACCOUNTS": {"default": GOOD}}, caches=local, debug=debug)
    assert ids(messages) == ["shipping_orders.E010"]
    assert messages[0].level == checks.ERROR
    assert "SINGLE_PROCESS" in messages[0].hint


def test_e010_local_memory_is_allowed_when_the_settings_say_one_process():
    local = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shipping": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "shipping",  # a store of its own (without one, both share "")
        },
    }
    setting = {
        "ACCOUNTS": {"default": GOOD},
        "SINGLE_PROCESS": True,
        "RATE_LIMIT_CACHE": "shipping",
    }
    assert run(setting, caches=local) == []
    truthy = {"ACCOUNTS": {"default": GOOD}, "SINGLE_PROCESS": 1, "RATE_LIMIT_CACHE": "shipping"}
    assert "shipping_orders.E010" in ids(run(truthy, caches=local)), "only True says it"


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.cache.backends.db.DatabaseCache",
        "django.core.cache.backends.memcached.PyMemcacheCache",
        "django.core.cache.backends.redis.RedisCache",
    ],
)
def test_shared_rate_limit_caches_pass(backend):
    setting = {"ACCOUNTS": {"default": GOOD}, "RATE_LIMIT_CACHE": "shipping"}
    caches = {"default": SHARED_CACHE["default"], "shipping": {"BACKEND": backend}}
    assert run(setting, caches=caches) == []


def test_w005_file_cache_is_shared_but_not_atomic():
    files = {
        "default": SHARED_CACHE["default"],
        "shipping": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache"},
    }
    setting = {"ACCOUNTS": {"default": GOOD}, "RATE_LIMIT_CACHE": "shipping"}
    assert ids(run(setting, caches=files)) == ["shipping_orders.W005"]


class MyDatabaseCache(DatabaseCache):
    """Stands for a project's own subclass (the check must see through it)."""


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.cache.backends.db.DatabaseCache",
        "django.core.cache.backends.filebased.FileBasedCache",
        "tests.core.test_checks.MyDatabaseCache",
    ],
)
def test_e012_a_culling_cache_shared_with_the_site_can_evict_the_budget(backend):
    caches = {"default": {"BACKEND": backend, "LOCATION": "/tmp/x"}}
    messages = run({"ACCOUNTS": {"default": GOOD}}, caches=caches)
    assert "shipping_orders.E012" in ids(messages)
    assert "dedicated" in next(m for m in messages if m.id == "shipping_orders.E012").hint


def test_e012_a_dedicated_alias_with_room_passes_and_a_tiny_one_does_not():
    db = "django.core.cache.backends.db.DatabaseCache"
    setting = {"ACCOUNTS": {"default": GOOD}, "RATE_LIMIT_CACHE": "shipping"}
    roomy = {"default": SHARED_CACHE["default"], "shipping": {"BACKEND": db}}
    assert run(setting, caches=roomy) == []
    tiny = {"default": SHARED_CACHE["default"]}
    tiny["shipping"] = {"BACKEND": db, "OPTIONS": {"MAX_ENTRIES": 5}}
    assert ids(run(setting, caches=tiny)) == ["shipping_orders.E012"]
    big_default = {"default": {"BACKEND": db, "OPTIONS": {"MAX_ENTRIES": 1_000_000}}}
    assert run({"ACCOUNTS": {"default": GOOD}}, caches=big_default) == []


def test_e009_rate_limit_cache_must_be_a_configured_cache():
    messages = run({"ACCOUNTS": {"default": GOOD}, "RATE_LIMIT_CACHE": "ratelimit"})
    assert ids(messages) == ["shipping_orders.E009"]
    assert "'ratelimit'" in messages[0].msg


def test_check_is_registered_with_django():
    with override_settings(SHIPPING_ORDERS={"ACCOUNTS": {}}):
        found = checks.run_checks()
    assert "shipping_orders.E001" in ids(found)


def test_e001_no_accounts():
    assert ids(run({"ACCOUNTS": {}})) == ["shipping_orders.E001"]


def test_e001_setting_absent():
    with override_settings():
        from django.conf import settings

        del settings.SHIPPING_ORDERS
        messages = check_settings()
    assert ids(messages) == ["shipping_orders.E001"]
    assert messages[0].hint


@pytest.mark.parametrize("provider", ["", "fedex", "nowhere.at.all.Provider"])
def test_e002_unknown_or_missing_provider(provider):
    messages = run({"ACCOUNTS": {"default": {**GOOD, "PROVIDER": provider}}})
    assert ids(messages) == ["shipping_orders.E002"]
    assert "shippit" in messages[0].hint


def test_e002_provider_key_absent():
    account = {key: value for key, value in GOOD.items() if key != "PROVIDER"}
    assert ids(run({"ACCOUNTS": {"default": account}})) == ["shipping_orders.E002"]


def test_e002_dotted_path_to_something_that_is_not_a_provider():
    messages = run({"ACCOUNTS": {"default": {**GOOD, "PROVIDER": "decimal.Decimal"}}})
    assert ids(messages) == ["shipping_orders.E002"]


def test_e003_missing_api_key():
    account = {key: value for key, value in GOOD.items() if key != "API_KEY"}
    messages = run({"ACCOUNTS": {"default": account}})
    assert ids(messages) == ["shipping_orders.E003"]
    assert "default" in messages[0].msg


@pytest.mark.parametrize("rate", ["60", "sixty/m", "0/m", "60/"])
def test_e004_malformed_rate_limit(rate):
    messages = run({"ACCOUNTS": {"default": {**GOOD, "RATE_LIMIT": rate}}})
    assert ids(messages) == ["shipping_orders.E004"]
    assert "60/m" in messages[0].hint


def test_e005_plain_http_base_url_with_debug_off():
    messages = run({"ACCOUNTS": {"default": {**GOOD, "BASE_URL": "http://shippit.example/api/3"}}})
    assert ids(messages) == ["shipping_orders.E005"]
    assert "https" in messages[0].hint


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8765/api/3", "http://localhost:8000/api/3", "http://[::1]:9000/api/3"]
)
def test_e005_not_raised_for_loopback(url):
    assert run({"ACCOUNTS": {"default": {**GOOD, "BASE_URL": url}}}) == []


def test_e005_not_raised_with_debug_on():
    setting = {"ACCOUNTS": {"default": {**GOOD, "BASE_URL": "http://shippit.example/api/3"}}}
    assert run(setting, debug=True) == []


def test_e005_not_raised_for_the_sandbox_on_its_default_url():
    assert run({"ACCOUNTS": {"default": {**GOOD, "PROVIDER": "sandbox"}}}) == []


def test_e005_not_raised_for_the_sandbox_on_another_host():
    setting = {
        "ACCOUNTS": {
            "default": {**GOOD, "PROVIDER": "sandbox", "BASE_URL": "http://sandbox:8765/api/3"}
        }
    }
    assert run(setting) == []


def test_e006_unknown_account_key():
    messages = run({"ACCOUNTS": {"default": {**GOOD, "API_KEYS": "x"}}})
    assert ids(messages) == ["shipping_orders.E006"]
    assert "API_KEYS" in messages[0].msg
    assert "API_KEY" in messages[0].hint


def test_e006_unknown_global_key_is_reported_with_the_account_checks():
    messages = run({"ACCOUNTS": {"default": GOOD}, "LABEL_STORGE": "x"})
    assert ids(messages) == ["shipping_orders.E006"]
    assert "LABEL_STORGE" in messages[0].msg


def test_e007_accounts_not_a_dict():
    assert ids(run({"ACCOUNTS": ["default"]})) == ["shipping_orders.E007"]


def test_e007_setting_not_a_dict():
    assert ids(run(["ACCOUNTS"])) == ["shipping_orders.E007"]


def test_e007_account_not_a_dict():
    assert ids(run({"ACCOUNTS": {"default": "shippit"}})) == ["shipping_orders.E007"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("MAX_RETRIES", "three"),
        ("TIMEOUT", "soon"),
        ("CONNECT_TIMEOUT", None),
        ("BACKOFF_FACTOR", [1]),
        ("FIELD_MAP", ["a", "b"]),
        ("STATE_MAP", "accepted"),
        ("CALLBACK_SECRETS", 42),
        ("API_KEY", 12345),
        ("MAX_RETRIES", -1),
    ],
)
def test_e007_account_value_of_the_wrong_type(key, value):
    messages = run({"ACCOUNTS": {"default": {**GOOD, key: value}}})
    assert "shipping_orders.E007" in ids(messages)
    assert any(key in message.msg for message in messages)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("LABEL_MAX_BYTES", "big"),
        ("CALLBACK_MAX_BYTES", None),
        ("REFRESH_WORKERS", "4"),
        ("RATE_LIMIT_CACHE", None),
        ("API_PERMISSION_CLASSES", "rest_framework.permissions.AllowAny"),
    ],
)
def test_e007_global_value_of_the_wrong_type(key, value):
    messages = run({"ACCOUNTS": {"default": GOOD}, key: value})
    assert ids(messages) == ["shipping_orders.E007"]
    assert key in messages[0].msg


@pytest.mark.parametrize(
    "refresh", [{"GRACE_PERIODE": 1}, {"GRACE_PERIOD": -5}, {"GRACE_PERIOD": "2m"}, [1]]
)
def test_e008_bad_refresh(refresh):
    messages = run({"ACCOUNTS": {"default": GOOD}, "REFRESH": refresh})
    assert ids(messages) == ["shipping_orders.E008"]


def test_w001_missing_callback_secret():
    account = {key: value for key, value in GOOD.items() if key != "CALLBACK_SECRETS"}
    messages = run({"ACCOUNTS": {"default": account}})
    assert ids(messages) == ["shipping_orders.W001"]
    assert messages[0].level == checks.WARNING


def test_every_problem_is_reported_at_once():
    setting = {
        "ACCOUNTS": {
            "a": {"PROVIDER": "fedex", "RATE_LIMIT": "x"},
            "b": {**GOOD, "BASE_URL": "http://remote.example"},
        }
    }
    assert ids(run(setting)) == [
        "shipping_orders.E002",
        "shipping_orders.E003",
        "shipping_orders.E004",
        "shipping_orders.E005",
        "shipping_orders.W001",
    ]


# -- settings added with the documented Shippit API ----------------------------------------


def test_w004_a_query_string_secret_is_logged_by_web_servers():
    messages = run({"ACCOUNTS": {"default": {**GOOD, "CALLBACK_SECRET_PARAM": "api_key"}}})
    assert ids(messages) == ["shipping_orders.W004"]
    assert "?api_key=" in messages[0].msg and "log" in messages[0].hint


@pytest.mark.parametrize(
    ("key", "value"),
    [("CURRENCY", "dollars"), ("CURRENCY", 36), ("CALLBACK_SECRET_PARAM", "api key&x=1")],
)
def test_e007_bad_currency_or_secret_parameter(key, value):
    messages = run({"ACCOUNTS": {"default": {**GOOD, key: value}}})
    assert ids(messages) == ["shipping_orders.E007"]
    assert key in messages[0].msg


@pytest.mark.parametrize("value", [["Couriers Please"], {"Couriers Please": 3}, {"": "Nobody"}])
def test_e007_courier_names_must_map_names_to_names(value):
    messages = run({"ACCOUNTS": {"default": GOOD}, "COURIER_NAMES": value})
    assert ids(messages) == ["shipping_orders.E007"]
    assert "COURIER_NAMES" in messages[0].msg


def test_courier_names_extend_and_override_the_built_in_names():
    from django_shipping_orders.couriers import display_name, normalize

    setting = {
        "ACCOUNTS": {"default": GOOD},
        "COURIER_NAMES": {"Couriers-Please": "CP", "Zoom Co": "Zoom"},
    }
    with override_settings(SHIPPING_ORDERS=setting):
        assert run(setting) == []
        assert display_name(normalize("CouriersPlease")) == "CP"
        assert display_name(normalize("zoom co.")) == "Zoom"
        assert display_name("aramex") == "Aramex"
        assert display_name("newcourier", "New Courier Ltd") == "New Courier Ltd"


class MyLocMemCache(LocMemCache):
    """A project's own local-memory cache: still one budget per process."""


def test_e010_sees_through_a_subclass_of_local_memory():
    local = {"default": {"BACKEND": "tests.core.test_checks.MyLocMemCache"}}
    assert "shipping_orders.E010" in ids(run({"ACCOUNTS": {"default": GOOD}}, caches=local))


def test_e012_a_dedicated_alias_on_the_site_cache_table_is_culled_with_it():
    db = "django.core.cache.backends.db.DatabaseCache"
    setting = {"ACCOUNTS": {"default": GOOD}, "RATE_LIMIT_CACHE": "shipping"}
    shared_table = {
        "default": {"BACKEND": db, "LOCATION": "django_cache"},
        "shipping": {"BACKEND": db, "LOCATION": "django_cache"},
    }
    messages = run(setting, caches=shared_table)
    assert ids(messages) == ["shipping_orders.E012"]
    assert "'default'" in messages[0].msg and "LOCATION of its own" in messages[0].hint
    own_table = {**shared_table, "shipping": {"BACKEND": db, "LOCATION": "shipping_cache"}}
    assert run(setting, caches=own_table) == []


@pytest.mark.parametrize("blank", ["", "   ", "\t\n", "\u200b", " \ufeff ", "\u3164" * 3, "\u2800"])
def test_e003_an_api_key_of_spaces_is_no_api_key(blank):
    messages = run({"ACCOUNTS": {"default": {**GOOD, "API_KEY": blank}}})
    assert ids(messages) == ["shipping_orders.E003"]


@pytest.mark.parametrize(
    ("default", "shipping"),
    [
        (
            {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        ),
        (
            {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": "/tmp/c",
            },
            {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": "/tmp/c/",
            },
        ),
        (
            {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cache"},
            {"BACKEND": "tests.core.test_checks.MyDatabaseCache", "LOCATION": "cache"},
        ),
    ],
    ids=["locmem-unnamed", "same-directory", "subclass-same-table"],
)
def test_e012_every_way_of_sharing_one_store_is_found(default, shipping):
    setting = {
        "ACCOUNTS": {"default": GOOD},
        "RATE_LIMIT_CACHE": "shipping",
        "SINGLE_PROCESS": True,
    }
    found = ids(run(setting, caches={"default": default, "shipping": shipping}))
    assert "shipping_orders.E012" in found


@pytest.mark.parametrize(
    "shipping",
    [
        "redis://127.0.0.1:6379/1",
        None,
        {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "t",
            "OPTIONS": ["x"],
        },
    ],
)
def test_odd_cache_entries_never_crash_the_check(shipping):
    setting = {"ACCOUNTS": {"default": GOOD}, "RATE_LIMIT_CACHE": "shipping"}
    run(setting, caches={"default": SHARED_CACHE["default"], "shipping": shipping})


def test_e012_infinite_options_never_crash_the_check():
    db = "django.core.cache.backends.db.DatabaseCache"
    shipping = {"BACKEND": db, "LOCATION": "t", "OPTIONS": {"MAX_ENTRIES": float("inf")}}
    setting = {"ACCOUNTS": {"default": GOOD}, "RATE_LIMIT_CACHE": "shipping"}
    run(setting, caches={"default": SHARED_CACHE["default"], "shipping": shipping})


def test_e012_one_directory_reached_through_a_link_is_one_store(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "cache")
    files = "django.core.cache.backends.filebased.FileBasedCache"
    caches = {
        "default": {"BACKEND": files, "LOCATION": str(tmp_path / "cache")},
        "shipping": {"BACKEND": files, "LOCATION": str(tmp_path / "link")},
    }
    setting = {"ACCOUNTS": {"default": GOOD}, "RATE_LIMIT_CACHE": "shipping"}
    assert "shipping_orders.E012" in ids(run(setting, caches=caches))
