"""No secret anywhere, even when the provider echoes it in every error it sends.

One account talks to a provider that answers every request with an error
whose code, description and extra fields quote the API key and the callback
secret. With DEBUG on and every logger captured at DEBUG, the test drives
every way in: callbacks (the secret in the URL, right and wrong, a missing
slash, a crash shown as a DEBUG page), the services, every management
command, the tasks (called and queued), every admin page and action, and
the DRF endpoints. Then it counts the secrets in everything a person or a
log could see: 0.
"""

from __future__ import annotations

import json
import logging
import pkgutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core import serializers
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.urls import reverse

from django_shipping_orders import management, services, tasks
from django_shipping_orders.api import tracking_token
from django_shipping_orders.models import CallbackReceipt, Order
from tests.conftest import load_fixture

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "sk_live_ECHOED_api_key_7f31c9"
SECRET = "whsec_ECHOED_callback_secret_0b42"
ALIAS = "shop"


class EchoHandler(BaseHTTPRequestHandler):
    """Every answer is an error quoting both secrets (and a 429 and a 5xx now and then)."""

    protocol_version = "HTTP/1.1"
    count = 0

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        EchoHandler.count += 1
        status = (403, 422, 500, 429, 404)[EchoHandler.count % 5]
        echo = f"key {KEY} / secret {SECRET} rejected"
        body = json.dumps(
            {
                "error": f"echo_{KEY}",
                "error_description": echo,
                "message": echo,
                "order_state": f"state_{SECRET}",
            }
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == 429:
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


class Capture(logging.Handler):
    """Every record, formatted with its traceback, from every logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))


@pytest.fixture
def echo_provider() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/3"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def every_log() -> Iterator[Capture]:
    capture = Capture()
    root = logging.getLogger()
    loggers = [root] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        logger.addHandler(capture)
    try:
        yield capture
    finally:
        for logger, level, disabled in saved:
            logger.removeHandler(capture)
            logger.setLevel(level)
            logger.disabled = disabled


@pytest.fixture
def shop(echo_provider: str, tmp_path: Any) -> Iterator[None]:
    setting = {
        "ACCOUNTS": {
            ALIAS: {
                "PROVIDER": "shippit",
                "API_KEY": KEY,
                "BASE_URL": echo_provider,
                "CALLBACK_SECRETS": [SECRET],
                "CALLBACK_VERIFY": True,  # a callback makes a provider call too
                "MAX_RETRIES": 1,
                "BACKOFF_FACTOR": 0,
                "RATE_LIMIT": "10000/m",
                "LABEL_HOSTS": ["labels.invalid"],
            }
        },
        "LABEL_ROOT": str(tmp_path / "labels"),
        "SINGLE_PROCESS": True,
    }
    with override_settings(SHIPPING_ORDERS=setting, DEBUG=True):
        yield


def _orders() -> list[Order]:
    body = load_fixture("shippit_webhook.json")
    made = []
    for n, state in enumerate(("processing", "ready_for_pickup", "in_transit"), start=1):
        made.append(
            Order.objects.create(
                account=ALIAS,
                reference=f"PPSEC{n}",
                retailer_reference=f"R-{n}",
                state=state,
                courier_job_id=f"CP{n}" if n > 1 else "",
                label_url="https://labels.invalid/l.pdf" if n == 2 else "",
                raw={**body, "tracking_number": f"PPSEC{n}", "current_state": state},
            )
        )
    return made


def _commands() -> list[str]:
    path = management.__path__[0] + "/commands"
    return [
        name
        for _, name, _ in pkgutil.iter_modules([path])
        if not name.startswith("_") and name != "run_shipping_sandbox"  # serves until stopped
    ]


COMMAND_ARGS = {
    "refresh_shipping_orders": [
        [],
        ["--all-open", "--wait"],
        ["--dry-run"],
        ["--reference", "PPSEC1"],
    ],
    "reprocess_shipping_callbacks": [["--failed"], ["--since", "1d"]],
    "prune_shipping_callbacks": [["--older-than", "1s", "--include-failed", "--dry-run"]],
}


def test_no_secret_reaches_logs_pages_messages_results_or_rows(shop, every_log, monkeypatch):
    seen: list[str] = []  # everything a person or a log could see
    orders = _orders()
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(next_refresh_at="2000-01-01T00:00Z")
    web = Client(raise_request_exception=False)
    callback = load_fixture("shippit_webhook.json") | {"tracking_number": "PPSEC1"}

    # -- callbacks: the secret in the URL and in a header, right and wrong ------------------
    token_url = reverse("shipping_orders:callback-token", args=[ALIAS, SECRET])
    plain_url = reverse("shipping_orders:callback", args=[ALIAS])
    posts = [
        (token_url, json.dumps(callback), {}),
        (token_url.rstrip("/"), json.dumps(callback), {}),  # no trailing slash
        (plain_url, "{not json", {"HTTP_X_SHIPPING_CALLBACK_SECRET": SECRET}),
        (plain_url, json.dumps(callback), {"HTTP_X_SHIPPING_CALLBACK_SECRET": f"x{SECRET}"}),
        (token_url + "extra/", "{}", {}),
    ]
    for url, body, headers in posts:
        seen.append(
            web.post(url, body, content_type="application/json", **headers).content.decode()
        )
    seen.append(web.get(token_url).content.decode())
    # A crash inside the view, shown as Django's DEBUG page.
    from django_shipping_orders.callbacks import views

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patch:
        patch.setattr(views, "store_receipt", crash)
        page = web.post(token_url, json.dumps(callback), content_type="application/json")
        assert page.status_code == 500 and b"RuntimeError" in page.content
        seen.append(page.content.decode())
        page = web.post(token_url, "{}", content_type="application/json", HTTP_ACCEPT="text/plain")
        seen.append(page.content.decode())

    # -- services ------------------------------------------------------------------------
    calls = [
        lambda: services.place_order(ALIAS, {"retailer_reference": "W-1"}),
        lambda: services.place_order(ALIAS, {"retailer_reference": "W-2"}),
        lambda: services.place_order(ALIAS, {"retailer_reference": "W-3"}),
        lambda: services.refresh_order(orders[0]),
        lambda: services.cancel_order(orders[1]),
        lambda: services.get_label(orders[2]),
        lambda: services.download_label(orders[1].pk),
        lambda: services.download_label(orders[2].pk),
    ]
    for call in calls:
        try:
            call()
        except Exception as err:
            seen += [str(err), repr(err), getattr(getattr(err, "response", None), "text", "")]

    # -- tasks, called and queued (django-q2 runs them inline here) -----------------------
    Order.objects.update(next_refresh_at="2000-01-01T00:00Z")
    seen.append(json.dumps(tasks.refresh_due_orders(), default=str))
    seen.append(json.dumps(tasks.refresh_order(orders[2].pk), default=str))
    seen.append(str(tasks.download_label(orders[2].pk)))
    seen.append(json.dumps(tasks.process_pending_callbacks(), default=str))
    from django_q.tasks import async_task

    async_task("django_shipping_orders.tasks.refresh_order", orders[0].pk)
    async_task("django_shipping_orders.tasks.download_label", orders[1].pk)

    # -- every management command of the app -------------------------------------------
    for name in _commands():
        for args in COMMAND_ARGS.get(name, [[]]):
            out, err = StringIO(), StringIO()
            try:
                call_command(name, *args, stdout=out, stderr=err)
            except (CommandError, SystemExit) as error:
                seen.append(str(error))
            seen += [out.getvalue(), err.getvalue()]

    # -- admin pages and actions ----------------------------------------------------------
    admin = User.objects.create_superuser("boss", "boss@example.com", "pw")
    web.force_login(admin)
    changelist = reverse("admin:shipping_orders_order_changelist")
    ids = [str(order.pk) for order in Order.objects.all()]
    for action in ("refresh_from_provider", "book_for_pickup", "print_labels"):
        page = web.post(
            changelist, {"action": action, "_selected_action": ids, "index": 0}, follow=True
        )
        seen.append(page.content.decode(errors="replace"))
    page = web.post(
        changelist,
        {"action": "cancel_at_provider", "_selected_action": ids, "post": "yes", "index": 0},
        follow=True,
    )
    seen.append(page.content.decode())
    refresh = reverse("admin:shipping_orders_order_refresh", args=[orders[0].pk])
    seen.append(web.post(refresh, follow=True).content.decode())
    receipts = reverse("admin:shipping_orders_callbackreceipt_changelist")
    seen.append(
        web.post(
            receipts,
            {
                "action": "reprocess",
                "_selected_action": [str(r.pk) for r in CallbackReceipt.objects.all()],
                "index": 0,
            },
            follow=True,
        ).content.decode()
    )
    pages = [reverse("admin:index"), changelist, receipts, changelist + "?q=PPSEC"]
    pages += [reverse("admin:shipping_orders_order_change", args=[pk]) for pk in ids]
    pages += [
        reverse("admin:shipping_orders_callbackreceipt_change", args=[r.pk])
        for r in CallbackReceipt.objects.all()
    ]
    for url in pages:
        page = web.get(url)
        assert page.status_code == 200, url
        seen.append(page.content.decode())

    # -- the DRF endpoints ------------------------------------------------------------------
    seen.append(web.get(reverse("shipping_orders:api-order-list")).content.decode())
    for pk in ids:
        seen.append(
            web.get(reverse("shipping_orders:api-order-detail", args=[pk])).content.decode()
        )
    token = tracking_token(orders[2])
    seen.append(
        web.get(
            reverse("shipping_orders:api-tracking"),
            {"retailer_reference": orders[2].retailer_reference, "token": token},
        ).content.decode()
    )

    # -- what is stored: every row of the app, django-q2's and the admin's log ------------
    models = [*apps.get_app_config("shipping_orders").get_models()]
    models += [*apps.get_app_config("django_q").get_models()]
    models.append(apps.get_model("admin", "LogEntry"))
    for model in models:
        seen.append(serializers.serialize("json", model.objects.all()))
    seen += every_log.texts

    everything = "\n".join(seen)
    assert EchoHandler.count >= 20, "the provider was asked, and echoed, many times"
    assert "[redacted]" in everything, "the echoes came in and were scrubbed, not avoided"
    assert everything.count(KEY) == 0 and everything.count(SECRET) == 0, [
        text[:300] for text in seen if KEY in text or SECRET in text
    ][:5]
    failed_rows = Order.objects.exclude(last_error="")
    assert failed_rows.exists() and all("[redacted]" in o.last_error for o in failed_rows)
