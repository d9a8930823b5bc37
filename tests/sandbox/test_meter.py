"""The arrival meter: what the provider received per key, its busiest window, its 429s."""

from __future__ import annotations

import time

import pytest
import requests

from django_shipping_orders.sandbox import pytest_plugin
from django_shipping_orders.sandbox.meter import ArrivalMeter, busiest_window

shipping_sandbox = pytest_plugin.shipping_sandbox


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_busiest_window_counts_half_open_windows():
    assert busiest_window([], 60) == 0
    assert busiest_window([0, 10, 59.9, 60, 119.9], 60) == 3  # (0, 60] holds 10, 59.9, 60
    assert busiest_window([5, 1, 3, 2, 4], 10) == 5


def test_every_arrival_counts_refused_or_not_and_the_limit_refuses_the_excess():
    clock = Clock()
    meter = ArrivalMeter(clock, lambda: 1.0, window=10)
    assert [meter.arrive("k", 3) for _ in range(3)] == [None] * 3
    clock.now += 4
    assert meter.arrive("k", 3) == pytest.approx(6)  # the first admitted leaves in 6 s
    assert meter.arrive("other", 3) is None, "per key"
    clock.now += 6
    assert meter.arrive("k", 3) is None
    figures = meter.snapshot()
    assert figures["requests"] == {"k": 5, "other": 1}
    assert figures["busiest"] == {"k": 4, "other": 1}, "the refused one arrived too"
    assert figures["refused"] == {"k": 1}


def test_retry_after_is_in_real_seconds():
    clock = Clock()
    simulated = ArrivalMeter(clock, lambda: 60.0, window=60)
    assert simulated.retry_after(30) == "1", "30 simulated seconds at 60x"
    frozen = ArrivalMeter(clock, lambda: 0.0, window=60)
    assert frozen.retry_after(30) == "60"
    real = ArrivalMeter(clock, lambda: 0.0, window=2, clock="real")
    assert real.retry_after(0.2) == "1" and real.retry_after(2.5) == "3"


def test_the_real_clock_counts_real_arrivals_whatever_the_simulated_time(shipping_sandbox):
    shipping_sandbox.set_speed(0)  # simulated time stands still
    shipping_sandbox.add_account("k1")
    shipping_sandbox.set_faults(rate_limit=2, rate_window=0.5, rate_clock="real")
    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = "Bearer k1"
    url = f"{shipping_sandbox.shippit_url}/orders/PPNONE"
    first = [session.get(url, timeout=5) for _ in range(3)]
    assert [r.status_code for r in first] == [404, 404, 429]
    assert first[2].headers["Retry-After"] == "1"
    assert "2 requests per 0.5 seconds" in first[2].json()["error_description"]
    time.sleep(0.6)
    assert session.get(url, timeout=5).status_code == 404
    meter = shipping_sandbox.stats()["meter"]
    assert meter["clock"] == "real" and meter["window_seconds"] == 0.5
    assert meter["requests"] == {"k1": 4} and meter["busiest"] == {"k1": 3}
    assert meter["refused"] == {"k1": 1}
    shipping_sandbox.reset_stats()
    assert shipping_sandbox.stats()["meter"]["busiest"] == {}


def test_an_unknown_key_is_refused_before_it_is_counted(shipping_sandbox):
    shipping_sandbox.set_faults(rate_limit=1)
    r = requests.get(
        f"{shipping_sandbox.shippit_url}/orders/X", headers={"Authorization": "Bearer nobody"}
    )
    assert r.status_code == 403
    assert shipping_sandbox.stats()["meter"]["requests"] == {}


def test_throttle_rate_answers_429_with_retry_after_one_second(shipping_sandbox):
    shipping_sandbox.add_account("k1")
    shipping_sandbox.set_faults(throttle_rate=1)
    r = requests.get(
        f"{shipping_sandbox.shippit_url}/orders/X", headers={"Authorization": "Bearer k1"}
    )
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert r.json()["error"] == "too_many_requests"
    stats = shipping_sandbox.stats()
    assert stats["faults"] == {"throttle": 1} and stats["meter"]["requests"] == {"k1": 1}


@pytest.mark.parametrize(
    "change", [{"rate_window": 0}, {"rate_clock": "wall"}, {"throttle_rate": 1.5}]
)
def test_bad_meter_settings_are_refused(shipping_sandbox, change):
    with pytest.raises(ValueError):
        shipping_sandbox.set_faults(**change)
