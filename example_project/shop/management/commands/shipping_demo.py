"""Run the example shop end to end against the sandbox provider.

Starts the sandbox, a django-q2 cluster and the development server, places a
dozen orders across both accounts, and shows where to look. Ctrl-C stops
every process it started. ``--once`` runs the same flow fast and without a
person: it exits 0 only when every order has a label and a courier tracking
number (or was cancelled) and the admin pages of the orders answer 200.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count
from django.test.utils import override_settings

from django_shipping_orders import refresh, services
from django_shipping_orders.exceptions import ShippingOrdersError
from django_shipping_orders.models import CallbackReceipt, Order, OrderEvent
from shop.demo_orders import demo_orders

MANAGE = str(Path(__file__).resolve().parents[3] / "manage.py")
ADMIN_USER, ADMIN_PASSWORD = "admin", "admin"


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="run fast, check the outcome, exit")
        parser.add_argument(
            "--speed", type=float, help="sandbox clock speed (default 60, 600 with --once)"
        )
        parser.add_argument("--timeout", type=float, default=150.0, help="--once: seconds to wait")
        parser.add_argument("--keep-db", action="store_true", help="keep orders of earlier runs")

    def handle(
        self, *args: Any, once: bool, speed: float | None, timeout: float, keep_db: bool, **kw: Any
    ) -> None:
        speed = speed or (600.0 if once else 60.0)
        if speed <= 0:
            raise CommandError("--speed must be above 0.")
        self.processes: list[subprocess.Popen[bytes]] = []
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        fast = override_settings(
            SHIPPING_ORDERS={**settings.SHIPPING_ORDERS, "REFRESH": settings.DEMO_FAST_REFRESH}
        )
        if once:
            env["DEMO_FAST"] = "1"
            fast.enable()
        # Ctrl-C, a closed terminal or a plain `kill` all end the same way: every
        # process this command started is stopped before it exits.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _interrupt)
        try:
            self._prepare(keep_db)
            self._start(
                "sandbox",
                [
                    MANAGE,
                    "run_shipping_sandbox",
                    "--speed",
                    str(speed),
                    "--seed",
                    "7",
                    # Some callbacks never arrive, as in real life: polling catches those up.
                    "--drop-callbacks",
                    "0.25",
                    "--app-url",
                    settings.DEMO_APP_URL,
                ],
                env,
            )
            self._wait_for(f"{settings.SANDBOX_URL}/_sandbox/clock", "sandbox")
            host_port = settings.DEMO_APP_URL.split("://", 1)[1]
            self._start("web", [MANAGE, "runserver", "--noreload", host_port], env)
            self._wait_for(f"{settings.DEMO_APP_URL}/admin/login/", "web server")
            self._start("qcluster", [MANAGE, "qcluster"], env)
            call_command("install_shipping_schedules", verbosity=0)
            self._place_orders()
            if once:
                self._run_once(timeout)
            else:
                self._run_interactive()
        finally:
            self._stop_all()
            if once:
                fast.disable()

    # -- steps ---------------------------------------------------------------------------

    def _prepare(self, keep_db: bool) -> None:
        call_command("migrate", verbosity=0, interactive=False)
        call_command("createcachetable", verbosity=0)
        if not keep_db:
            Order.objects.all().delete()
            CallbackReceipt.objects.all().delete()
        user_model = get_user_model()
        if not user_model.objects.filter(username=ADMIN_USER).exists():
            user_model.objects.create_superuser(ADMIN_USER, "admin@example.com", ADMIN_PASSWORD)

    def _place_orders(self) -> None:
        self.stdout.write("Placing demo orders …")
        for alias, payload in demo_orders():
            try:
                order = services.place_order(alias, payload)
            except ShippingOrdersError as err:
                self.stderr.write(f"  {alias} {payload['retailer_reference']}: {err}")
                continue
            self.stdout.write(
                f"  {alias:<15} {payload['retailer_reference']:<6} -> {order.reference} ({order.state})"
            )

    def _run_interactive(self) -> None:
        self.stdout.write(
            self.style.SUCCESS(
                "\nThe demo shop is running.\n"
                f"  Admin:     {settings.DEMO_APP_URL}/admin/shipping_orders/order/  (login {ADMIN_USER} / {ADMIN_PASSWORD})\n"
                f"  Callbacks: {settings.DEMO_APP_URL}/admin/shipping_orders/callbackreceipt/\n"
                f"  API:       {settings.DEMO_APP_URL}/shipping/api/orders/\n"
                f"  Sandbox:   {settings.SANDBOX_URL}/_sandbox/orders\n"
                "Orders move on the sandbox clock: labels within seconds, pickup within minutes.\n"
                "Press Ctrl-C to stop everything."
            )
        )
        try:
            while all(p.poll() is None for p in self.processes):
                time.sleep(0.5)
            self.stderr.write("A demo process stopped unexpectedly; shutting down.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping …")

    def _run_once(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # The cluster polls on its schedule too; this keeps the fast demo brisk.
            summary = refresh.refresh_due()
            if summary.selected:
                self.stdout.write(f"Refreshed from the provider: {summary}.")
            if all(_finished(order) for order in Order.objects.all()):
                break
            time.sleep(1)
        orders = list(Order.objects.order_by("account", "retailer_reference"))
        pages_ok = self._check_admin_pages(orders)
        self._print_table(orders)
        unfinished = [order for order in orders if not _finished(order)]
        if len(orders) < len(demo_orders()) or unfinished or not pages_ok:
            raise CommandError(
                f"Demo incomplete: {len(orders)} orders, {len(unfinished)} without label and tracking "
                f"number, admin pages {'ok' if pages_ok else 'failing'}."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo complete: {len(orders)} orders processed, labels and tracking numbers in admin."
            )
        )

    def _check_admin_pages(self, orders: list[Order]) -> bool:
        session = requests.Session()
        login = f"{settings.DEMO_APP_URL}/admin/login/"
        session.get(login, timeout=10)
        session.post(
            login,
            timeout=10,
            data={
                "username": ADMIN_USER,
                "password": ADMIN_PASSWORD,
                "next": "/admin/",
                "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""),
            },
            headers={"Referer": login},
        )
        urls = [f"{settings.DEMO_APP_URL}/admin/shipping_orders/order/"]
        urls += [
            f"{settings.DEMO_APP_URL}/admin/shipping_orders/order/{o.pk}/change/" for o in orders
        ]
        failing = []
        for url in urls:
            response = session.get(url, timeout=30, allow_redirects=False)
            if response.status_code != 200:
                failing.append(f"{url} -> {response.status_code}")
        for line in failing:
            self.stderr.write(f"  admin page failed: {line}")
        return not failing

    def _print_table(self, orders: list[Order]) -> None:
        receipts = CallbackReceipt.objects.count()
        by_source = dict(
            OrderEvent.objects.values_list("source").annotate(n=Count("id")).order_by()
        )
        self.stdout.write(
            f"\nCallbacks received: {receipts}; state changes learned from callbacks: "
            f"{by_source.get('callback', 0)}, from refreshes: "
            f"{by_source.get('refresh', 0) + by_source.get('command', 0)}, "
            f"from placing: {by_source.get('place', 0)}."
        )
        header = f"{'account':<15} {'retailer':<7} {'reference':<16} {'state':<20} {'courier':<15} {'tracking no.':<16} label"
        self.stdout.write("\n" + header + "\n" + "-" * len(header))
        for o in orders:
            self.stdout.write(
                f"{o.account:<15} {o.retailer_reference:<7} {o.reference or '-':<16} {o.state:<20} "
                f"{(o.courier_allocation or o.courier_name or '-')[:15]:<15} {o.courier_job_id or '-':<16} "
                f"{'stored' if o.label else ('url' if o.label_url else '-')}"
            )

    # -- processes -----------------------------------------------------------------------

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        # A session of its own: Ctrl-C reaches only this command, which then stops
        # the children in order instead of leaving half of them running.
        process = subprocess.Popen([sys.executable, *args], env=env, start_new_session=True)
        process.name = name  # type: ignore[attr-defined]
        self.processes.append(process)

    def _wait_for(self, url: str, what: str, seconds: float = 30.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.processes):
                raise CommandError(f"The {what} process exited during start-up (port in use?).")
            try:
                requests.get(url, timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise CommandError(f"The {what} did not answer at {url} within {seconds:.0f} s.")

    def _stop_all(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _finished(order: Order) -> bool:
    if order.state == "cancelled" or order.placement == Order.Placement.REJECTED:
        return True
    return bool(order.courier_job_id and order.label)
