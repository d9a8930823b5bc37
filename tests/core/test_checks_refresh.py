"""The refresh policy numbers (E008) and the other durations (E007): NaN, infinities,
overflowing durations and zero stays are refused by the check, naming the key, instead
of crashing a refresh or a callback later."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from django_shipping_orders.exceptions import ShippingOrdersConfigurationError
from django_shipping_orders.policy import PolicySettings, next_retry_after_error

from .test_checks import GOOD, ids, run


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("SPARE_SHARE", math.nan),
        ("SPARE_MIN_CHANCE", math.nan),
        ("SPARE_SHARE", math.inf),
        ("SPARE_SHARE", 1.5),
        ("SPARE_SHARE", -0.1),
        ("SPARE_SHARE", "0.5"),
        ("EXPECTED_MOVING_STAY", 1e-300),
        ("EXPECTED_LABELLED_STAY", 0),
        ("EXPECTED_WITH_DRIVER_STAY", 59),
        ("EXPECTED_MOVING_STAY", 1e15),
        ("EXPECTED_LABELLED_STAY", math.inf),
        ("LABEL_FOLLOW_UP", 1e300),
        ("GRACE_PERIOD", math.nan),
        ("ERROR_MAX", timedelta(days=366)),
        ("MAX_AGE", -math.inf),
        ("MAX_DEFERRAL", 10**400),  # no float holds it: refused, not an OverflowError
        ("SPARE_SHARE", -(10**5000)),  # past the digits Python prints: the message says so
    ],
    ids=lambda value: value if isinstance(value, str) else type(value).__name__,
)
def test_e008_refresh_number_out_of_range(key, value):
    messages = run({"ACCOUNTS": {"default": GOOD}, "REFRESH": {key: value}})
    assert ids(messages) == ["shipping_orders.E008"]
    assert key in messages[0].msg


def test_e008_a_share_is_named_a_share_not_seconds():
    messages = run({"ACCOUNTS": {"default": GOOD}, "REFRESH": {"SPARE_SHARE": "0.5"}})
    assert "share" in messages[0].msg
    assert "seconds" not in messages[0].msg


@pytest.mark.parametrize(
    "refresh",
    [
        {"SPARE_SHARE": 0, "SPARE_MIN_CHANCE": 1},
        {"EXPECTED_MOVING_STAY": 60, "LABEL_FOLLOW_UP": 0},
        {"MAX_AGE": timedelta(days=365)},
    ],
)
def test_e008_edges_that_are_fine(refresh):
    assert run({"ACCOUNTS": {"default": GOOD}, "REFRESH": refresh}) == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("TIMEOUT", math.inf),
        ("CONNECT_TIMEOUT", math.nan),
        ("BACKOFF_MAX", math.inf),
        ("BACKOFF_FACTOR", math.nan),
    ],
)
def test_e007_account_duration_not_finite(key, value):
    messages = run({"ACCOUNTS": {"default": {**GOOD, key: value}}})
    assert ids(messages) == ["shipping_orders.E007"]
    assert key in messages[0].msg


def test_e007_clock_window_not_finite():
    messages = run({"ACCOUNTS": {"default": GOOD}, "CLOCK_WINDOW": math.inf})
    assert ids(messages) == ["shipping_orders.E007"]


def test_from_settings_raises_naming_the_key():
    with pytest.raises(ShippingOrdersConfigurationError, match="EXPECTED_MOVING_STAY"):
        PolicySettings.from_settings({"EXPECTED_MOVING_STAY": 1e-300})


def test_many_failures_wait_error_max_without_overflow():
    class Failed:
        refresh_failures = 5000

    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    policy = PolicySettings()
    retry = next_retry_after_error(Failed(), now=now, policy=policy)  # type: ignore[arg-type]
    assert retry == now + timedelta(seconds=policy.ERROR_MAX)
