"""Run the example shop end to end against the sandbox provider.

Starts the sandbox, a django-q2 cluster and the development server, places a
dozen orders across both accounts, and shows where to look. Ctrl-C stops
every process it started. ``--once`` runs the same flow fast and without a
person: it exits 0 only when every order has a label and a courier tracking
number (or was cancelled) and the admin pages of the orders answer 200.

``--port`` and ``--sandbox-port`` move the web server and the sandbox. A port
already taken is named in a one-line error before anything starts (exit
status 1), and if any process of the demo dies, the demo stops the others
and exits 1 naming it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
        parser.add_argument(
            "--port",
            type=int,
            help="port of the shop's web server (default from DEMO_APP_URL: 8000)",
        )
        parser.add_argument(
            "--sandbox-port", type=int, help="port of the sandbox (default from SANDBOX_URL: 8765)"
        )

    def handle(
        self,
        *args: Any,
        once: bool,
        speed: float | None,
        timeout: float,
        keep_db: bool,
        port: int | None,
        sandbox_port: int | None,
        **kw: Any,
    ) -> None:
        speed = speed or (600.0 if once else 60.0)
        if speed <= 0:
            raise CommandError("--speed must be above 0.")
        self.app_url = _with_port(settings.DEMO_APP_URL, port)
        self.sandbox_url = _with_port(settings.SANDBOX_URL, sandbox_port)
        # Before anything starts: a taken port is one line naming it, not a dead child later.
        _port_free(self.app_url, "--port", "the shop's web server")
        _port_free(self.sandbox_url, "--sandbox-port", "the sandbox")
        self.processes: list[subprocess.Popen[bytes]] = []
        # The processes this command starts read the same settings module: they learn
        # the URLs from the environment, as shop/settings.py documents.
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "DEMO_APP_URL": self.app_url,
            "SANDBOX_URL": self.sandbox_url,
        }
        shipping = _moved(settings.SHIPPING_ORDERS, settings.SANDBOX_URL, self.sandbox_url)
        if once:
            env["DEMO_FAST"] = "1"
            shipping["REFRESH"] = settings.DEMO_FAST_REFRESH
        fast = override_settings(SHIPPING_ORDERS=shipping)
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
                    self.app_url,
                    "--port",
                    str(urlsplit(self.sandbox_url).port),
                ],
                env,
            )
            self._wait_for(f"{self.sandbox_url}/_sandbox/clock", "sandbox")
            host_port = self.app_url.split("://", 1)[1]
            self._start("web", [MANAGE, "runserver", "--noreload", host_port], env)
            self._wait_for(f"{self.app_url}/admin/login/", "web server")
            self._start("qcluster", [MANAGE, "qcluster"], env)
            call_command("install_shipping_schedules", verbosity=0)
            self._place_orders()
            if once:
                self._run_once(timeout)
            else:
                self._run_interactive()
        finally:
            self._stop_all()
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
                f"  Admin:     {self.app_url}/admin/shipping_orders/order/  (login {ADMIN_USER} / {ADMIN_PASSWORD})\n"
                f"  Callbacks: {self.app_url}/admin/shipping_orders/callbackreceipt/\n"
                f"  API:       {self.app_url}/shipping/api/orders/  (schema: /shipping/api/schema/)\n"
                f"  Status:    python example_project/manage.py shipping_orders_status\n"
                f"  Sandbox:   {self.sandbox_url}/_sandbox/orders\n"
                "Orders move on the sandbox clock: labels within seconds, pickup within minutes.\n"
                "Press Ctrl-C to stop everything."
            )
        )
        try:
            while True:
                self._check_children()
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping …")

    def _run_once(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_children()
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
        login = f"{self.app_url}/admin/login/"
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
        urls = [f"{self.app_url}/admin/shipping_orders/order/"]
        urls += [f"{self.app_url}/admin/shipping_orders/order/{o.pk}/change/" for o in orders]
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

    def _check_children(self) -> None:
        """Exit 1 naming the first process of the demo that has died (the rest are stopped)."""
        for process in self.processes:
            code = process.poll()
            if code is not None:
                raise CommandError(
                    f"The demo's {process.name} process stopped unexpectedly "  # type: ignore[attr-defined]
                    f"(exit status {code}); the other processes were stopped.",
                    returncode=1,
                )

    def _wait_for(self, url: str, what: str, seconds: float = 30.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._check_children()
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


def _with_port(url: str, port: int | None) -> str:
    """``url`` with its port replaced by ``port`` (unchanged when ``port`` is None)."""
    if port is None:
        return url
    if not 0 < port < 65536:
        raise CommandError(f"{port} is not a TCP port (1-65535).")
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{port}"


def _port_free(url: str, option: str, what: str) -> None:
    """Raise a one-line error naming the port of ``url`` when something already listens there."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As the servers do: only a socket still listening there makes the port taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            raise CommandError(
                f"Port {port} on {host} is taken ({err.strerror}); {what} needs it. "
                f"Stop what uses it or pick another port with {option}.",
                returncode=1,
            ) from None


def _moved(shipping: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """A copy of ``SHIPPING_ORDERS`` whose accounts talk to the sandbox at ``new``."""
    accounts = {
        alias: {**account, "BASE_URL": str(account.get("BASE_URL", "")).replace(old, new)}
        if account.get("BASE_URL")
        else dict(account)
        for alias, account in shipping["ACCOUNTS"].items()
    }
    return {**shipping, "ACCOUNTS": accounts}


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _finished(order: Order) -> bool:
    if order.state == "cancelled" or order.placement == Order.Placement.REJECTED:
        return True
    return bool(order.courier_job_id and order.label)
