"""Real ``qcluster`` processes (Redis broker and cache, PostgreSQL) beside each other and a command.

Two clusters refresh each due order once per due time; three clusters and a
``refresh_shipping_orders --wait`` command together keep to the account's
rate limit as the provider's meter counts it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from django_shipping_orders.models import Order

from .conftest import SANDBOX_KEY, redis_available, redis_url
from .test_engine import get_calls, make_due, place

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not redis_available(), reason=f"Redis does not answer at {redis_url()}"),
]

ENQUEUE = """
import time
import django
django.setup()
from django_q.tasks import async_task
for _ in range({count}):
    async_task("django_shipping_orders.tasks.refresh_due_orders")
    time.sleep(0.2)
"""


def _env(sandbox) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings_qcluster",
        "PYTHONPATH": str(ROOT),
        "SHIPPING_TEST_DB_NAME": connection.settings_dict["NAME"],
        "QCLUSTER_NAME": f"shipping-it-{uuid.uuid4().hex[:8]}",
        "QCLUSTER_SANDBOX_URL": sandbox.shippit_url,
        "QCLUSTER_SANDBOX_KEY": SANDBOX_KEY,
        "REDIS_URL": redis_url(),
    }


def _wait_until_none_due(timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Order.objects.filter(next_refresh_at__lte=timezone.now()).exists():
            return
        time.sleep(0.3)
    raise AssertionError("due orders were left unrefreshed")


def test_two_clusters_refresh_each_due_order_exactly_once_per_due_time(sandbox, sandbox_settings):
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL=postgres://… (the clusters share the test database)")
    orders = place(30)
    env = _env(sandbox)
    clusters = [
        subprocess.Popen(
            [sys.executable, "-m", "django", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    try:
        for round_number in (1, 2):
            make_due(*orders)
            enqueue = ENQUEUE.format(count=30)
            subprocess.run(
                [sys.executable, "-c", enqueue], cwd=ROOT, env=env, check=True, timeout=60
            )
            _wait_until_none_due(timeout=60)
            assert [get_calls(sandbox, o.reference) for o in orders] == [round_number] * len(orders)
    finally:
        for cluster in clusters:
            cluster.terminate()
        for cluster in clusters:
            try:
                cluster.wait(20)
            except subprocess.TimeoutExpired:
                cluster.kill()
    errors = []
    for cluster in clusters:
        errors.append(cluster.stderr.read().decode(errors="replace"))
        cluster.stderr.close()
    assert not any("Traceback" in text for text in errors), "\n".join(errors)


ENQUEUE_EACH = """
import django
django.setup()
from django_q.tasks import async_task
for pk in {ids}:
    async_task("django_shipping_orders.tasks.refresh_order", pk)
for _ in range(10):
    async_task("django_shipping_orders.tasks.refresh_due_orders")
"""


def test_three_clusters_and_a_wait_command_keep_to_the_limit_the_provider_counts(
    sandbox, sandbox_settings
):
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL=postgres://… (the clusters share the test database)")
    limit, window = 10, 2
    orders = place(40)
    make_due(*orders)
    since = timezone.now()
    sandbox.set_faults(rate_limit=limit, rate_window=window, rate_clock="real")
    sandbox.reset_stats()
    env = {**_env(sandbox), "QCLUSTER_RATE_LIMIT": f"{limit}/{window}s"}
    clusters = [
        subprocess.Popen(
            [sys.executable, "-m", "django", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    try:
        # Every order both as a task of its own (any worker of any cluster) and through
        # the due runs, while a command fetches the same orders with --wait.
        ids = [order.pk for order in orders]
        subprocess.run(
            [sys.executable, "-c", ENQUEUE_EACH.format(ids=ids)],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=60,
        )
        command = subprocess.run(
            [sys.executable, "-m", "django", "refresh_shipping_orders", "--all-open", "--wait"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        _wait_until_none_due(timeout=120)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            fresh = Order.objects.filter(pk__in=ids, last_synced_at__gte=since).count()
            if fresh == len(ids):
                break
            time.sleep(0.5)
    finally:
        for cluster in clusters:
            cluster.terminate()
        for cluster in clusters:
            try:
                cluster.wait(20)
            except subprocess.TimeoutExpired:
                cluster.kill()
    errors = []
    for cluster in clusters:
        errors.append(cluster.stderr.read().decode(errors="replace"))
        cluster.stderr.close()
    meter = sandbox.stats()["meter"]
    figures = {
        "limit": f"{limit}/{window}s",
        "busiest_window": meter["busiest"][SANDBOX_KEY],
        "requests": meter["requests"][SANDBOX_KEY],
        "refused_by_the_limit": meter["refused"].get(SANDBOX_KEY, 0),
        "orders_refreshed": Order.objects.filter(pk__in=ids, last_synced_at__gte=since).count(),
    }
    print(figures)
    assert command.returncode == 0, command.stderr
    assert not any("Traceback" in text for text in errors), "\n".join(errors)
    assert figures["busiest_window"] <= limit
    assert figures["refused_by_the_limit"] == 0
    assert figures["orders_refreshed"] == len(ids)
    fetched_by_command = int(re.search(r"fetched (\d+)", command.stdout).group(1))
    assert 0 < fetched_by_command < figures["requests"], "the clusters and the command shared it"
