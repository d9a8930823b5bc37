"""A new shop built from the README alone: startproject, the README's blocks, its commands.

``django-admin startproject`` in a temporary folder, the README's settings
and URL blocks appended as they are written, the README's commands run as
they are written (SQLite, the ORM broker, the database cache: no Redis).
Then, against the sandbox as the README's "try it offline" describes: an
order is placed, the sandbox's callback arrives, a refresh runs, and the
label shows in the admin.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

pytestmark = pytest.mark.integration


def readme_block(name: str) -> str:
    """The fenced block that follows ``<!-- fresh-shop: NAME -->`` in the README."""
    text = README.read_text()
    match = re.search(rf"<!-- fresh-shop: {re.escape(name)} -->\s*```\w*\n(.*?)```", text, re.S)
    assert match, f"README.md has no block marked fresh-shop: {name}"
    return match.group(1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Shop:
    """A startproject shop in a folder, run with the environment the README describes."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, *args: str) -> None:
        log = open(self.folder / f"{args[0]}.log", "wb")  # noqa: SIM115 (closed in stop())
        self._logs.append(log)
        self.processes.append(
            subprocess.Popen(
                [sys.executable, "manage.py", *args],
                cwd=self.folder,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self._logs:
            log.close()

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.folder.glob("*.log"))
        )


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    app_port, sandbox_port = _free_port(), _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "PYTEST_"))
    }
    # The README's "try it offline": the sandbox in place of Shippit.
    env.update(
        SHIPPING_PROVIDER="sandbox",
        SHIPPING_BASE_URL=f"http://127.0.0.1:{sandbox_port}/api/3",
        SHIPPING_API_KEY="try-it",
        SHIPPING_CALLBACK_SECRETS="try-it-secret",
        DJANGO_SUPERUSER_PASSWORD="clerk-password",
        PYTHONUNBUFFERED="1",
    )
    created = subprocess.run(
        [sys.executable, "-m", "django", "startproject", "shop", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert created.returncode == 0, created.stderr
    with (tmp_path / "shop" / "settings.py").open("a") as settings:
        settings.write("\n\n" + readme_block("settings.py"))
    with (tmp_path / "shop" / "urls.py").open("a") as urls:
        urls.write("\n\n" + readme_block("urls.py"))
    running = Shop(tmp_path, env)
    running.app_url = f"http://127.0.0.1:{app_port}"  # type: ignore[attr-defined]
    running.sandbox_port = sandbox_port  # type: ignore[attr-defined]
    try:
        yield running
    finally:
        running.stop()


def _wait(what: str, test, shop: Shop, seconds: float = 90.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for process in shop.processes:
            assert process.poll() is None, f"a process of the shop died\n{shop.logs()}"
        result = test()
        if result:
            return result
        time.sleep(0.5)
    pytest.fail(f"{what} did not happen within {seconds:.0f} s\n{shop.logs()}")


RECEIPTS = """
from django_shipping_orders.models import CallbackReceipt
print(sorted(set(CallbackReceipt.objects.values_list("status", flat=True))))
"""


def test_a_startproject_shop_following_the_readme_places_and_prints_labels(shop):
    for line in readme_block("commands").splitlines():
        command = shlex.split(line.split("#", 1)[0])
        if not command:
            continue
        assert command[:2] == ["python", "manage.py"], line
        if command[2] == "qcluster":
            shop.start("qcluster")
            continue
        result = shop.manage(*command[2:])
        assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
        if command[2] == "check":
            assert "System check identified no issues" in result.stdout, result.stdout

    host_port = shop.app_url.split("://")[1]
    shop.start("runserver", "--noreload", host_port)
    # As the README says, with a faster clock and no orders cancelled along the way.
    shop.start(
        "run_shipping_sandbox",
        "--app-url",
        shop.app_url,
        "--speed",
        "600",
        "--cancel-share",
        "0",
        "--seed",
        "3",
    )
    _wait("the web server", lambda: _answers(f"{shop.app_url}/admin/login/"), shop)
    sandbox = f"http://127.0.0.1:{shop.sandbox_port}/_sandbox/clock"
    _wait("the sandbox", lambda: _answers(sandbox), shop)
    created = shop.manage(
        "createsuperuser", "--noinput", "--username", "clerk", "--email", "clerk@example.com"
    )
    assert created.returncode == 0, created.stderr

    # The README's own order, and what it gives back.
    place = readme_block("place").replace("services.place_order(", "order = services.place_order(")
    placed = shop.manage("shell", "-c", place + "\nprint(order.pk, order.reference)")
    assert placed.returncode == 0, placed.stderr
    order_id, reference = placed.stdout.splitlines()[-1].split()

    admin = requests.Session()
    login = f"{shop.app_url}/admin/login/"
    admin.get(login, timeout=10)
    admin.post(
        login,
        data={
            "username": "clerk",
            "password": "clerk-password",
            "csrfmiddlewaretoken": admin.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": login},
        timeout=10,
    )
    api = f"{shop.app_url}/shipping/api/orders/{order_id}/"

    def labelled() -> dict | None:
        data = admin.get(api, timeout=10).json()
        return data if data.get("label") and data["tracking"]["tracking_number"] else None

    order = _wait("the callback bringing the courier and the label", labelled, shop)
    assert order["reference"] == reference

    receipts = shop.manage("shell", "-c", RECEIPTS)
    assert "processed" in receipts.stdout, receipts.stdout + receipts.stderr

    refreshed = shop.manage("refresh_shipping_orders", "--all-open")
    assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    assert "failed 0" in refreshed.stdout

    page = admin.get(f"{shop.app_url}/admin/shipping_orders/order/{order_id}/change/", timeout=10)
    assert page.status_code == 200
    assert 'class="so-label-frame"' in page.text
    label = admin.get(order["label"], timeout=10)
    assert label.status_code == 200 and label.content.startswith(b"%PDF")

    status = shop.manage("shipping_orders_status", "--json")
    assert '"healthy": true' in status.stdout, status.stdout + status.stderr


def _answers(url: str) -> bool:
    try:
        requests.get(url, timeout=2)
    except requests.RequestException:
        return False
    return True
