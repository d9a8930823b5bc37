"""The rate limit judged where the provider counts it: the sandbox's arrival meter, real time.

The account's limit and the sandbox's are the same (``LIMIT`` requests per
``WINDOW`` real seconds, a short window so that a test sees several), and the
sandbox refuses with 429 above it, as Shippit does. What must hold: the
busiest window the sandbox saw is at most the limit, and every order is
refreshed. Three real ``qcluster`` processes and a command on PostgreSQL and
Redis are in test_qcluster.py.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from django_shipping_orders.models import Order

from .conftest import sandbox_accounts
from .test_engine import make_due, place

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT, WINDOW = 10, 2


def limited(sandbox, **account):
    """The sandbox and the account set to the same limit, counted from now on."""
    sandbox.set_faults(rate_limit=LIMIT, rate_window=WINDOW, rate_clock="real")
    sandbox.reset_stats()
    caches["default"].clear()
    return override_settings(
        SHIPPING_ORDERS=sandbox_accounts(
            sandbox.shippit_url, RATE_LIMIT=f"{LIMIT}/{WINDOW}s", **account
        )
    )


def report(sandbox, orders, since) -> dict:
    """The figures, printed as the benchmark prints them (see them with ``pytest -s``)."""
    meter = sandbox.stats()["meter"]
    key = next(iter(meter["requests"]))
    figures = {
        "limit": f"{LIMIT}/{WINDOW}s",
        "busiest_window": meter["busiest"][key],
        "requests": meter["requests"][key],
        "refused_by_the_limit": meter["refused"].get(key, 0),
        "orders_refreshed": Order.objects.filter(
            pk__in=[o.pk for o in orders], last_synced_at__gte=since
        ).count(),
    }
    print(figures)
    return figures


def test_one_wait_command_keeps_to_the_limit_as_the_provider_counts_it(sandbox):
    with override_settings(SHIPPING_ORDERS=sandbox_accounts(sandbox.shippit_url)):
        orders = place(30)
    make_due(*orders)
    since = timezone.now()
    with limited(sandbox):
        call_command("refresh_shipping_orders", "--wait", stdout=StringIO())
    figures = report(sandbox, orders, since)
    assert figures["busiest_window"] <= LIMIT
    assert figures["refused_by_the_limit"] == 0
    assert figures["orders_refreshed"] == 30
    assert figures["requests"] == 30


def test_retries_under_30_percent_injected_429_and_5xx_keep_to_the_limit(sandbox):
    with override_settings(SHIPPING_ORDERS=sandbox_accounts(sandbox.shippit_url)):
        orders = place(20)
    make_due(*orders)
    since = timezone.now()
    sandbox.set_faults(throttle_rate=0.15, fail_rate=0.15, seed=11)
    with limited(sandbox, MAX_RETRIES=8, BACKOFF_FACTOR=0.05, BACKOFF_MAX=0.2):
        out = StringIO()
        call_command("refresh_shipping_orders", "--wait", stdout=out, stderr=out)
    figures = report(sandbox, orders, since)
    faults = sandbox.stats()["faults"]
    assert faults.get("throttle", 0) and faults.get("fail", 0), "both kinds were injected"
    assert figures["busiest_window"] <= LIMIT
    assert figures["refused_by_the_limit"] == 0
    assert figures["orders_refreshed"] == 20, out.getvalue()
    assert figures["requests"] > 20, "the faults were retried"


def test_without_wait_the_run_stops_at_the_budget_and_the_provider_agrees(sandbox):
    with override_settings(SHIPPING_ORDERS=sandbox_accounts(sandbox.shippit_url)):
        orders = place(25)
    make_due(*orders)
    since = timezone.now()
    with limited(sandbox):
        out = StringIO()
        call_command("refresh_shipping_orders", stdout=out)
    figures = report(sandbox, orders, since)
    assert figures["requests"] == figures["orders_refreshed"] == LIMIT
    assert figures["refused_by_the_limit"] == 0
    assert "skipped for rate limit 15" in out.getvalue()
