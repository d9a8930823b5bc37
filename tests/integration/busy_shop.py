"""A busy shop on a ``startproject`` SQLite database: placing orders while everything else runs.

Four parties share one SQLite file with no options (tests/settings_startproject.py):
the sandbox provider (in this process, at real speed, with a quick schedule)
calling back into a ``runserver`` process, a ``qcluster`` with the ORM broker
running the installed schedules (polling, the callback drain), and a process
placing orders in a loop (tests/integration/place_many.py). Afterwards one
drain runs (the every-minute schedule, without the wait) and the database is
read: what each ``place_order`` call did, and how many rows each order the
provider created has (there must be one).

Used by tests/integration/test_busy_shop.py and bench/placement.py.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django_shipping_orders.sandbox import SandboxServer
from django_shipping_orders.sandbox.world import Schedule

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk_busy_shop_key"
SECRET = "whsec_busy_shop_secret"

#: Whole lives in seconds at real speed: processed, labelled, delivered.
QUICK = Schedule(
    processing_min=0.5,
    processing_max=3.0,
    despatch_after=1.0,
    ready_after=2.0,
    pickup_after=3.0,
    with_driver_after=2.0,
    completed_after=2.0,
)


def run(orders: int, workdir: Path, *, settle_seconds: float = 60.0) -> dict[str, Any]:
    """Run the scenario in ``workdir``; returns the figures (see the module docstring)."""
    database = workdir / "busy-shop.sqlite3"
    port = _free_port()
    sandbox = SandboxServer("127.0.0.1", 0, speed=1.0, seed=7, cancel_share=0.05, schedule=QUICK)
    sandbox.start()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        sandbox.add_account(
            KEY,
            "shippit",
            callback_url=f"http://127.0.0.1:{port}/shipping/callbacks/sandbox/",
            secret_header="X-Shipping-Callback-Secret",
            secret=SECRET,
        )
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "tests.settings_startproject",
            "BUSY_SHOP_DB": str(database),
            "BUSY_SHOP_LABELS": str(workdir / "labels"),
            "BUSY_SHOP_SANDBOX_URL": sandbox.shippit_url,
            "BUSY_SHOP_SANDBOX_KEY": KEY,
            "BUSY_SHOP_CALLBACK_SECRET": SECRET,
        }
        _django(env, "migrate", "--verbosity", "0")
        _django(env, "install_shipping_schedules")
        processes.append(_start(env, "runserver", "--noreload", f"127.0.0.1:{port}"))
        processes.append(_start(env, "qcluster"))
        _wait_for_port(port)

        started = time.monotonic()
        placer = subprocess.run(
            [sys.executable, "-m", "tests.integration.place_many", str(orders)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=600,
            check=True,
        )
        placing_seconds = time.monotonic() - started
        placed = json.loads(placer.stdout.decode().strip().splitlines()[-1])

        # Let the provider finish every order and its callbacks land.
        deadline = time.monotonic() + settle_seconds
        while time.monotonic() < deadline:
            sandbox.wait_for_callbacks(5)
            states = {info["state"] for info in sandbox.orders()}
            if states <= {"completed", "cancelled"}:
                break
            time.sleep(0.5)
        sandbox.wait_for_callbacks(10)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        sandbox_orders = {
            ref: order.fields.get("retailer_reference")
            for ref, order in sandbox.world.orders.items()
        }
        sandbox.stop()
    # What the every-minute schedule would do next: the receipts a lock left waiting.
    _django(env, "shell", "-c", _DRAIN)
    return {
        "orders": orders,
        "placing_seconds": round(placing_seconds, 1),
        **placed,
        "provider_orders": len(sandbox_orders),
        **_rows(database, sandbox_orders),
    }


_DRAIN = (
    "from datetime import timedelta;"
    "from unittest import mock;"
    "from django.utils import timezone;"
    "from django_shipping_orders.callbacks import process_pending;"
    "later = timezone.now() + timedelta(hours=1);"
    "mock.patch.object(timezone, 'now', lambda: later).start();"
    "process_pending()"
)


def _rows(database: Path, sandbox_orders: dict[str, Any]) -> dict[str, Any]:
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT reference, retailer_reference, placement FROM shipping_orders_order"
        ).fetchall()
        receipts = dict(
            db.execute(
                "SELECT status, COUNT(*) FROM shipping_orders_callbackreceipt GROUP BY status"
            ).fetchall()
        )
    by_reference: dict[str, int] = {}
    waiting: dict[str, int] = {}
    for reference, retailer, _placement in rows:
        if reference is None:
            waiting[retailer] = waiting.get(retailer, 0) + 1
        else:
            by_reference[reference] = by_reference.get(reference, 0) + 1
    not_one = [
        ref
        for ref, retailer in sandbox_orders.items()
        if by_reference.get(ref, 0) + waiting.get(retailer, 0) != 1
    ]
    placements: dict[str, int] = {}
    for _reference, _retailer, placement in rows:
        placements[placement] = placements.get(placement, 0) + 1
    return {
        "rows": len(rows),
        "orders_without_exactly_one_row": len(not_one),
        "examples": not_one[:5],
        "placements": placements,
        "receipts": receipts,
    }


def _django(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
        stdout=subprocess.DEVNULL,
    )


def _start(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "django", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the web server did not start on port {port}")
