"""The SHIPPING_ORDERS setting: lazy, strict about keys, with documented defaults."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_shipping_orders.conf import (
    ACCOUNT_DEFAULTS,
    GLOBAL_DEFAULTS,
    RateLimit,
    shipping_settings,
)
from django_shipping_orders.exceptions import ShippingOrdersConfigurationError, UnknownAccount
from django_shipping_orders.providers import Provider, get_provider
from django_shipping_orders.providers.senderlv import SenderLvProvider
from django_shipping_orders.providers.shippit import PRODUCTION_URL, ShippitProvider


def _accounts(**accounts):
    return {"SHIPPING_ORDERS": {"ACCOUNTS": accounts}}


class CustomProvider(Provider):
    """A provider named by dotted path in tests."""

    name = "custom"
    default_base_url = "https://custom.example/api"


def test_settings_are_read_on_every_access_so_override_settings_is_seen():
    assert shipping_settings.account("default").api_key == "test-api-key-do-not-log"
    with override_settings(**_accounts(default={"PROVIDER": "shippit", "API_KEY": "other"})):
        assert shipping_settings.account("default").api_key == "other"
    assert shipping_settings.account("default").api_key == "test-api-key-do-not-log"


def test_unknown_global_key_raises_an_error_naming_it():
    with (
        override_settings(SHIPPING_ORDERS={"ACCOUNTS": {}, "ACOUNTS_TYPO": 1}),
        pytest.raises(ShippingOrdersConfigurationError, match="ACOUNTS_TYPO"),
    ):
        shipping_settings.account_aliases


def test_unknown_account_key_raises_an_error_naming_it():
    with (
        override_settings(**_accounts(default={"PROVIDER": "shippit", "API_KEYS": "x"})),
        pytest.raises(ShippingOrdersConfigurationError, match="API_KEYS"),
    ):
        shipping_settings.account("default")


def test_configuration_errors_are_improperly_configured_outside_the_runtime_root():
    from django_shipping_orders.exceptions import ShippingOrdersError

    assert issubclass(ShippingOrdersConfigurationError, ImproperlyConfigured)
    assert not issubclass(ShippingOrdersConfigurationError, ShippingOrdersError)


def test_account_defaults_fill_every_key_not_given():
    with override_settings(**_accounts(main={"PROVIDER": "shippit", "API_KEY": "k"})):
        account = shipping_settings.account("main")
    assert account.base_url is None
    assert account.callback_secrets == ()
    assert account.callback_secret_header == ACCOUNT_DEFAULTS["CALLBACK_SECRET_HEADER"]
    assert account.rate_limit == RateLimit(requests=60, seconds=60.0)
    assert account.connect_timeout == 5.0
    assert account.timeout == 20.0
    assert account.max_retries == 3
    assert account.auth_header == "Authorization"
    assert account.auth_scheme == "Bearer"
    assert account.field_map == {}
    assert account.state_map == {}


def test_global_defaults_apply_when_keys_are_absent():
    with override_settings(**_accounts(main={"PROVIDER": "shippit", "API_KEY": "k"})):
        assert shipping_settings.label_max_bytes == GLOBAL_DEFAULTS["LABEL_MAX_BYTES"]
        assert shipping_settings.callback_max_bytes == GLOBAL_DEFAULTS["CALLBACK_MAX_BYTES"]
        assert shipping_settings.refresh == {}
        assert shipping_settings.refresh_workers == 4
        assert shipping_settings.label_storage is None


def test_missing_setting_means_no_accounts():
    with override_settings():
        from django.conf import settings

        del settings.SHIPPING_ORDERS
        assert shipping_settings.account_aliases == []


def test_base_url_trailing_slash_is_dropped():
    with override_settings(
        **_accounts(
            main={"PROVIDER": "shippit", "API_KEY": "k", "BASE_URL": "https://x.test/api/3/"}
        )
    ):
        assert shipping_settings.account("main").base_url == "https://x.test/api/3"


def test_unknown_account_alias_error_lists_the_configured_ones():
    with (
        override_settings(
            **_accounts(
                shop_au={"PROVIDER": "shippit", "API_KEY": "k"}, shop_lv={"PROVIDER": "senderlv"}
            )
        ),
        pytest.raises(UnknownAccount) as info,
    ):
        shipping_settings.account("shop_nz")
    message = str(info.value)
    assert "shop_nz" in message
    assert "shop_au" in message and "shop_lv" in message
    assert isinstance(info.value, KeyError)


def test_account_without_provider_is_an_error_naming_the_key():
    with (
        override_settings(**_accounts(main={"API_KEY": "k"})),
        pytest.raises(ShippingOrdersConfigurationError, match="PROVIDER"),
    ):
        shipping_settings.account("main")


@pytest.mark.parametrize(
    ("text", "requests", "seconds"),
    [
        ("60/m", 60, 60),
        ("1000/60s", 1000, 60),
        ("5/s", 5, 1),
        ("3600/h", 3600, 3600),
        ("10/d", 10, 86400),
        (" 60 / 2m ", 60, 120),
        ("7/minute", 7, 60),
        ("3/10", 3, 10),
    ],
)
def test_rate_limit_parses_requests_per_window(text, requests, seconds):
    rate = RateLimit.parse(text)
    assert rate.requests == requests
    assert rate.seconds == seconds


@pytest.mark.parametrize(
    "text",
    ["", "60", "60/", "/m", "sixty/m", "60/w", "0/m", "-1/m", "60/0s", "1.5/m", 60, None, ["60/m"]],
)
def test_malformed_rate_limit_is_a_value_error(text):
    with pytest.raises(ValueError) as info:
        RateLimit.parse(text)
    assert repr(text) in str(info.value)


def test_malformed_rate_limit_of_an_account_is_a_configuration_error_naming_the_key():
    with override_settings(**_accounts(main={"PROVIDER": "shippit", "RATE_LIMIT": "lots"})):
        account = shipping_settings.account("main")
        with pytest.raises(ShippingOrdersConfigurationError, match=r"\['main'\]\['RATE_LIMIT'\]"):
            account.rate_limit


def test_rate_limit_prints_as_requests_per_seconds():
    assert str(RateLimit.parse("60/m")) == "60/60s"


@pytest.mark.parametrize(
    ("name", "cls"),
    [("shippit", ShippitProvider), ("senderlv", SenderLvProvider)],
)
def test_provider_is_resolved_by_builtin_name(name, cls):
    with override_settings(**_accounts(main={"PROVIDER": name, "API_KEY": "k"})):
        assert shipping_settings.account("main").provider_class is cls
        assert type(get_provider("main")) is cls


def test_sandbox_provider_is_resolved_by_name():
    from django_shipping_orders.providers.sandbox import SandboxProvider

    with override_settings(**_accounts(main={"PROVIDER": "sandbox", "API_KEY": "k"})):
        assert shipping_settings.account("main").provider_class is SandboxProvider


def test_provider_is_resolved_by_dotted_path():
    with override_settings(
        **_accounts(main={"PROVIDER": "tests.core.test_conf.CustomProvider", "API_KEY": "k"})
    ):
        provider = get_provider("main")
    assert type(provider) is CustomProvider
    assert provider.base_url == "https://custom.example/api"


def test_unimportable_provider_is_a_configuration_error_naming_it():
    with (
        override_settings(**_accounts(main={"PROVIDER": "nowhere.Provider", "API_KEY": "k"})),
        pytest.raises(ShippingOrdersConfigurationError, match=r"nowhere\.Provider"),
    ):
        get_provider("main")


def test_dotted_path_to_a_non_provider_class_is_refused():
    with (
        override_settings(**_accounts(main={"PROVIDER": "decimal.Decimal", "API_KEY": "k"})),
        pytest.raises(ShippingOrdersConfigurationError, match="not a subclass"),
    ):
        get_provider("main")


def test_base_url_defaults_to_the_providers_production_url():
    with override_settings(**_accounts(main={"PROVIDER": "shippit", "API_KEY": "k"})):
        assert get_provider("main").base_url == PRODUCTION_URL == "https://app.shippit.com/api/3"


def test_provider_is_rebuilt_when_the_account_settings_change():
    first = get_provider("default")
    assert get_provider("default") is first
    with override_settings(**_accounts(default={"PROVIDER": "shippit", "API_KEY": "rotated"})):
        second = get_provider("default")
    assert second is not first
    assert second.account.api_key == "rotated"


def test_one_http_session_per_account():
    with override_settings(
        **_accounts(
            a={"PROVIDER": "shippit", "API_KEY": "k1"}, b={"PROVIDER": "shippit", "API_KEY": "k2"}
        )
    ):
        a, b = get_provider("a"), get_provider("b")
        assert a.client.session is not b.client.session
        assert get_provider("a").client.session is a.client.session


def test_api_key_and_callback_secrets_are_not_in_the_account_repr():
    with override_settings(
        **_accounts(
            main={"PROVIDER": "shippit", "API_KEY": "sk-live-123", "CALLBACK_SECRETS": ["cb-456"]}
        )
    ):
        account = shipping_settings.account("main")
        text = (
            repr(account)
            + str(account)
            + repr(get_provider("main"))
            + repr(get_provider("main").client)
        )
    assert "sk-live-123" not in text
    assert "cb-456" not in text


def test_a_new_setting_object_is_read_again_and_the_same_one_is_not_rebuilt(settings):
    from django_shipping_orders.conf import shipping_settings

    settings.SHIPPING_ORDERS = {"ACCOUNTS": {"a": {"PROVIDER": "shippit", "API_KEY": "k1"}}}
    first = shipping_settings.account("a")
    assert shipping_settings.account("a") is first  # same object: built once
    settings.SHIPPING_ORDERS = {"ACCOUNTS": {"a": {"PROVIDER": "shippit", "API_KEY": "k2"}}}
    assert shipping_settings.account("a").api_key == "k2"
    settings.SHIPPING_ORDERS = {"ACCOUNTS": {"a": {"PROVIDER": "shippit"}}, "TYPO": 1}
    with pytest.raises(ShippingOrdersConfigurationError, match="TYPO"):
        shipping_settings.account("a")
